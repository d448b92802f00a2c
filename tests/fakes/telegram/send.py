"""Bot API methods that send or change messages, checked the way Telegram checks them."""

import time
from typing import Any

from tests.fakes.telegram.limits import (
    ApiError,
    bad_request,
    check_caption,
    check_media_count,
    check_reply_markup,
    check_text,
)
from tests.fakes.telegram.media import (
    FALLBACK_SIZE,
    document_object,
    image_size,
    photo_sizes,
    resolve_input_file,
)
from tests.fakes.telegram.state import FakeState, StoredFile, Upload, UploadedFile

Params = dict[str, Any]
Parts = dict[str, UploadedFile]
_GROUP_KINDS = ("group", "supergroup")
# Fields of a message that describe its envelope rather than its content.
_ENVELOPE = frozenset(
    {
        "message_id",
        "date",
        "chat",
        "from",
        "sender_chat",
        "forward_origin",
        "edit_date",
        "reply_to_message",
        "media_group_id",
        "reply_markup",
        "message_thread_id",
    }
)


def target_chat(state: FakeState, params: Params, key: str = "chat_id") -> int:
    """The chat a method addresses, after Telegram's existence and blocking checks."""
    value = params.get(key)
    if value is None or value == "":
        raise bad_request(f"{key} is empty")
    chat_id = state.chats.resolve(value)
    state.chats.ensure_reachable(chat_id)
    return chat_id


def post(state: FakeState, chat_id: int, content: Params, params: Params) -> dict[str, Any]:
    """Store a message from the bot in chat_id, as Telegram would return it."""
    kind = state.chats.kind(chat_id)
    envelope: Params = {}
    if kind == "channel":
        envelope["sender_chat"] = state.chats.chat(chat_id)
    else:
        envelope["from"] = state.bot_sender
    envelope.update(content)
    reply = _reply_target(state, chat_id, params)
    if reply is not None:
        envelope["reply_to_message"] = reply
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        envelope["reply_markup"] = markup
    if params.get("message_thread_id"):
        envelope["message_thread_id"] = params["message_thread_id"]
    message = state.chats.new_message(chat_id, envelope)
    state.sent.append(message)
    return message


def _reply_target(state: FakeState, chat_id: int, params: Params) -> dict[str, Any] | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        message_id, lenient = reply.get("message_id"), reply.get("allow_sending_without_reply")
    else:
        message_id = params.get("reply_to_message_id")
        lenient = params.get("allow_sending_without_reply")
    if message_id is None:
        return None
    found = state.chats.get(chat_id, message_id)
    if found is None and not lenient:
        raise bad_request("message to be replied not found")
    return found


def send(state: FakeState, chat_id: int, content: Params, params: Params, cost: int = 1) -> Params:
    """Flood control, then post."""
    is_group = state.chats.kind(chat_id) in _GROUP_KINDS
    state.limiter.acquire(chat_id, is_group=is_group, cost=cost)
    return post(state, chat_id, content, params)


def _record(
    state: FakeState, method: str, chat_id: int, field: str, part: Any, file_id: str
) -> None:
    if part is not None:
        state.uploads.append(
            Upload(method, chat_id, field, part.filename, part.content_type, part.data, file_id)
        )


def _photo_content(state: FakeState, stored: StoredFile) -> list[Params]:
    size = (stored.width, stored.height)
    if not all(size):
        size = image_size(stored.data) or FALLBACK_SIZE
    return photo_sizes(state.files, stored.data, size)


def _with_caption(content: Params, params: Params, caption_params: Params | None = None) -> Params:
    source = caption_params if caption_params is not None else params
    caption = check_caption(source.get("caption"), source.get("parse_mode"))
    if caption:
        content["caption"] = caption
    return content


async def send_message(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendMessage."""
    text = check_text(params.get("text"), params.get("parse_mode"))
    check_reply_markup(params.get("reply_markup"))
    chat_id = target_chat(state, params)
    return send(state, chat_id, {"text": text}, params)


async def send_photo(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendPhoto."""
    content = _with_caption({}, params)
    check_reply_markup(params.get("reply_markup"))
    chat_id = target_chat(state, params)
    stored, part = resolve_input_file(
        state.files, params.get("photo"), parts, kind="photo", field="photo"
    )
    content["photo"] = _photo_content(state, stored)
    message = send(state, chat_id, content, params)
    _record(state, "sendPhoto", chat_id, "photo", part, content["photo"][-1]["file_id"])
    return message


async def send_document(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendDocument."""
    content = _with_caption({}, params)
    check_reply_markup(params.get("reply_markup"))
    chat_id = target_chat(state, params)
    stored, part = resolve_input_file(
        state.files, params.get("document"), parts, kind="document", field="document"
    )
    content["document"] = document_object(stored)
    message = send(state, chat_id, content, params)
    _record(state, "sendDocument", chat_id, "document", part, stored.file_id)
    return message


async def send_media_group(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendMediaGroup: 2..10 photos/videos, or documents only."""
    media = params.get("media")
    if not isinstance(media, list):
        raise bad_request("can't parse media JSON object")
    check_media_count(len(media))
    kinds = {item.get("type") for item in media if isinstance(item, dict)}
    if "document" in kinds and len(kinds) > 1:
        raise bad_request("document can't be mixed with other media types")
    chat_id = target_chat(state, params)
    prepared = [_media_item(state, item, parts) for item in media]
    is_group = state.chats.kind(chat_id) in _GROUP_KINDS
    state.limiter.acquire(chat_id, is_group=is_group, cost=len(prepared))
    group_id = state.new_media_group_id()
    messages = []
    for content, part, file_id in prepared:
        content["media_group_id"] = group_id
        messages.append(post(state, chat_id, content, params))
        _record(state, "sendMediaGroup", chat_id, "media", part, file_id)
    return messages


def _media_item(state: FakeState, item: Any, parts: Parts) -> tuple[Params, Any, str]:
    if not isinstance(item, dict) or item.get("type") not in ("photo", "document", "video"):
        kind = item.get("type") if isinstance(item, dict) else None
        raise bad_request(f'can\'t parse InputMedia: type "{kind}" is unsupported')
    kind = item["type"]
    content = _with_caption({}, item, item)
    try:
        stored, part = resolve_input_file(
            state.files, item.get("media"), parts, kind=kind, field="media"
        )
    except ApiError as exc:
        if "wrong file identifier" in exc.description:
            raise bad_request("can't parse InputMedia: media not found") from exc
        raise
    if kind == "photo":
        content["photo"] = _photo_content(state, stored)
        return content, part, content["photo"][-1]["file_id"]
    if kind == "video":
        content["video"] = {**document_object(stored), "width": 1, "height": 1, "duration": 1}
    else:
        content["document"] = document_object(stored)
    return content, part, stored.file_id


def _content_of(message: Params) -> Params:
    return {key: value for key, value in message.items() if key not in _ENVELOPE}


async def copy_message(state: FakeState, params: Params, parts: Parts) -> Any:
    """copyMessage: the content again, without a link to the original."""
    from_chat = target_chat(state, params, "from_chat_id")
    original = state.chats.get(from_chat, params.get("message_id"))
    if original is None:
        raise bad_request("message to copy not found")
    check_reply_markup(params.get("reply_markup"))
    chat_id = target_chat(state, params)
    content = _content_of(original)
    if "caption" in params:
        content.pop("caption", None)
        _with_caption(content, params)
    message = send(state, chat_id, content, params)
    return {"message_id": message["message_id"]}


async def forward_message(state: FakeState, params: Params, parts: Parts) -> Any:
    """forwardMessage: the content with forward_origin pointing at the original sender."""
    from_chat = target_chat(state, params, "from_chat_id")
    original = state.chats.get(from_chat, params.get("message_id"))
    if original is None:
        raise bad_request("message to forward not found")
    chat_id = target_chat(state, params)
    content = _content_of(original)
    content["forward_origin"] = _origin(original)
    return send(state, chat_id, content, {})


def _origin(original: Params) -> Params:
    if "forward_origin" in original:
        return original["forward_origin"]
    chat = original["chat"]
    if chat["type"] == "channel":
        return {
            "type": "channel",
            "chat": chat,
            "message_id": original["message_id"],
            "date": original["date"],
        }
    if "from" in original:
        return {"type": "user", "sender_user": original["from"], "date": original["date"]}
    return {"type": "chat", "sender_chat": original["sender_chat"], "date": original["date"]}


def _editable(state: FakeState, params: Params) -> Params | None:
    """The bot's message to edit, or None for inline messages (Telegram answers True)."""
    if params.get("inline_message_id"):
        return None
    chat_id = target_chat(state, params)
    message = state.chats.get(chat_id, params.get("message_id"))
    if message is None:
        raise bad_request("message to edit not found")
    if message.get("from", {}).get("id") != state.bot_user["id"] and "sender_chat" not in message:
        raise bad_request("message can't be edited")
    return message


def _replace(state: FakeState, message: Params, changes: Params) -> Params:
    if all(message.get(key) == value for key, value in changes.items()):
        raise bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    edited = {key: value for key, value in message.items() if value is not None}
    edited.update({key: value for key, value in changes.items() if value is not None})
    for key in [key for key, value in changes.items() if value is None]:
        edited.pop(key, None)
    edited["edit_date"] = max(int(message["date"]), int(time.time()))
    state.chats.messages[(message["chat"]["id"], message["message_id"])] = edited
    return edited


async def edit_message_text(state: FakeState, params: Params, parts: Parts) -> Any:
    """editMessageText."""
    text = check_text(params.get("text"), params.get("parse_mode"))
    check_reply_markup(params.get("reply_markup"))
    message = _editable(state, params)
    if message is None:
        return True
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    return _replace(state, message, {"text": text, "reply_markup": _inline(params)})


async def edit_message_reply_markup(state: FakeState, params: Params, parts: Parts) -> Any:
    """editMessageReplyMarkup."""
    check_reply_markup(params.get("reply_markup"))
    message = _editable(state, params)
    if message is None:
        return True
    return _replace(state, message, {"reply_markup": _inline(params)})


def _inline(params: Params) -> Params | None:
    markup = params.get("reply_markup")
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return markup
    return None


async def delete_message(state: FakeState, params: Params, parts: Parts) -> Any:
    """deleteMessage."""
    chat_id = target_chat(state, params)
    message = state.chats.get(chat_id, params.get("message_id"))
    if message is None:
        raise bad_request("message to delete not found")
    del state.chats.messages[(chat_id, message["message_id"])]
    return True


async def send_location(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendLocation."""
    location = _location(params)
    check_reply_markup(params.get("reply_markup"))
    chat_id = target_chat(state, params)
    return send(state, chat_id, {"location": location}, params)


async def send_venue(state: FakeState, params: Params, parts: Parts) -> Any:
    """sendVenue."""
    location = _location(params)
    title, address = str(params.get("title", "")), str(params.get("address", ""))
    chat_id = target_chat(state, params)
    venue = {"location": location, "title": title, "address": address}
    return send(state, chat_id, {"venue": venue, "location": location}, params)


def _location(params: Params) -> Params:
    try:
        latitude, longitude = float(params["latitude"]), float(params["longitude"])
    except (KeyError, TypeError, ValueError):
        raise bad_request("wrong latitude or longitude specified") from None
    return {"latitude": latitude, "longitude": longitude}


SEND_METHODS = {
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "senddocument": send_document,
    "sendmediagroup": send_media_group,
    "copymessage": copy_message,
    "forwardmessage": forward_message,
    "editmessagetext": edit_message_text,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
    "sendlocation": send_location,
    "sendvenue": send_venue,
}
