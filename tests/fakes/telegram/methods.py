"""Bot API methods other than sending: identity, updates, webhooks, files, chats, commands."""

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.telegram.limits import GET_FILE_LIMIT, ApiError, bad_request
from tests.fakes.telegram.send import SEND_METHODS, Params, Parts, target_chat
from tests.fakes.telegram.state import FakeState, WebhookConfig

Handler = Callable[[FakeState, Params, Parts], Awaitable[Any]]

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def get_me(state: FakeState, params: Params, parts: Parts) -> Any:
    """getMe."""
    return state.bot_user


async def get_updates(state: FakeState, params: Params, parts: Parts) -> Any:
    """getUpdates: confirm below offset, then return at once or long-poll up to `timeout`."""
    if state.webhook is not None:
        raise ApiError(409, WEBHOOK_CONFLICT)
    queue = state.updates
    if "allowed_updates" in params:
        allowed = params["allowed_updates"]
        queue.allowed = frozenset(allowed) if isinstance(allowed, list) and allowed else None
    offset = _int(params.get("offset"), 0)
    if offset:
        queue.confirm(offset)
    limit = min(max(_int(params.get("limit"), 100), 1), 100)
    deadline = time.monotonic() + max(_int(params.get("timeout"), 0), 0)
    state.poll_ticket += 1
    ticket = state.poll_ticket
    queue.wake()  # an older long poll still waiting loses, as on Telegram
    while True:
        batch = queue.peek(limit)
        remaining = deadline - time.monotonic()
        if batch or remaining <= 0 or state.closing:
            return batch
        await queue.wait(remaining)
        if state.poll_ticket != ticket:
            raise ApiError(409, POLL_CONFLICT)
        if state.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)


async def set_webhook(state: FakeState, params: Params, parts: Parts) -> Any:
    """setWebhook (an empty url removes the webhook, as on Telegram)."""
    url = str(params.get("url") or "")
    if not url:
        return await delete_webhook(state, params, parts)
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if params.get("drop_pending_updates"):
        state.updates.clear()
    allowed = params.get("allowed_updates")
    if isinstance(allowed, list):
        state.updates.allowed = frozenset(allowed) or None
    state.webhook = WebhookConfig(
        url=url,
        secret_token=params.get("secret_token") or None,
        max_connections=min(max(_int(params.get("max_connections"), 40), 1), 100),
        allowed_updates=allowed if isinstance(allowed, list) else None,
        ip_address=params.get("ip_address") or None,
    )
    state.updates.wake()
    return True


async def delete_webhook(state: FakeState, params: Params, parts: Parts) -> Any:
    """deleteWebhook."""
    if params.get("drop_pending_updates"):
        state.updates.clear()
    state.webhook = None
    state.updates.wake()
    return True


async def get_webhook_info(state: FakeState, params: Params, parts: Parts) -> Any:
    """getWebhookInfo (the secret token is never shown, as on Telegram)."""
    info: Params = {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates),
    }
    hook = state.webhook
    if hook is None:
        return info
    info["url"] = hook.url
    info["max_connections"] = hook.max_connections
    optional = {
        "allowed_updates": hook.allowed_updates,
        "ip_address": hook.ip_address,
        "last_error_date": hook.last_error_date,
        "last_error_message": hook.last_error_message,
    }
    info.update({key: value for key, value in optional.items() if value is not None})
    return info


async def answer_callback_query(state: FakeState, params: Params, parts: Parts) -> Any:
    """answerCallbackQuery: each query from a builder can be answered once."""
    query_id = str(params.get("callback_query_id") or "")
    if state.callback_queries.get(query_id, True):
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    state.callback_queries[query_id] = True
    return True


async def get_file(state: FakeState, params: Params, parts: Parts) -> Any:
    """getFile: refuses files above the 20 MB bot download limit."""
    stored = state.files.get(str(params.get("file_id") or ""))
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > GET_FILE_LIMIT:
        raise bad_request("file is too big")
    return stored.as_file()


def _commands_key(params: Params) -> str:
    scope = params.get("scope")
    scope_type = scope.get("type", "default") if isinstance(scope, dict) else "default"
    return f"{scope_type}:{params.get('language_code') or ''}"


async def set_my_commands(state: FakeState, params: Params, parts: Parts) -> Any:
    """setMyCommands."""
    commands = params.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        if not _COMMAND.fullmatch(name.lower()):
            raise bad_request("BOT_COMMAND_INVALID")
    state.commands[_commands_key(params)] = commands
    return True


async def get_my_commands(state: FakeState, params: Params, parts: Parts) -> Any:
    """getMyCommands."""
    return state.commands.get(_commands_key(params), [])


async def delete_my_commands(state: FakeState, params: Params, parts: Parts) -> Any:
    """deleteMyCommands."""
    state.commands.pop(_commands_key(params), None)
    return True


async def get_chat(state: FakeState, params: Params, parts: Parts) -> Any:
    """getChat: a ChatFullInfo with the fields aiogram requires."""
    value = params.get("chat_id")
    if value is None or value == "":
        raise bad_request("chat_id is empty")
    chat_id = state.chats.resolve(value)
    if chat_id in state.chats.deleted:
        raise bad_request("chat not found")
    gifts = dict.fromkeys(
        (
            "unlimited_gifts",
            "limited_gifts",
            "unique_gifts",
            "premium_subscription",
            "gifts_from_channels",
        ),
        False,
    )
    return {
        **state.chats.chat(chat_id),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": gifts,
    }


async def send_chat_action(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendChatAction."""
    if params.get("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    target_chat(state, params)
    return True


METHODS: dict[str, Handler] = {
    **SEND_METHODS,
    "getme": get_me,
    "getupdates": get_updates,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "answercallbackquery": answer_callback_query,
    "getfile": get_file,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "getchat": get_chat,
    "sendchataction": send_chat_action,
}
