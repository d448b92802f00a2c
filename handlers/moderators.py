"""The moderators' group: card buttons and /link. Thin: parse, call one use case, render.

Cards reach the group through the outbox (workers/moderator_cards.py), never from here. The
buttons only work in the configured moderators' chat; /link works there and in private.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, RateLimited
from core.i18n import Texts
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.middleware import ConversationMiddleware
from moderation.staff.links import (
    ButtonInvalid,
    NotLinked,
    label_of,
    link_telegram,
    press_button,
)

ANSWERS = {
    "decided": "mod.answer_decided",
    "already": "mod.answer_already",
    "busy": "mod.answer_busy",
    "dashboard": "mod.answer_needs_info",
}
OUTCOMES = {
    "promising": "mod.outcome.promising",
    "needs_info": "mod.outcome.needs_info",
    "duplicate": "mod.outcome.duplicate",
    "not_relevant": "mod.outcome.not_relevant",
    "spam": "mod.outcome.spam",
    "urgent": "mod.outcome.urgent",
}


def _chat_of(event: TelegramObject) -> Chat | None:
    if isinstance(event, CallbackQuery):
        return event.message.chat if event.message is not None else None
    return event.chat if isinstance(event, Message) else None


class ModeratorsChat(Filter):
    """Only the configured moderators' group: a card button can never fire anywhere else."""

    async def __call__(
        self, event: TelegramObject, services: BotServices | None = None, **_: Any
    ) -> bool:
        """True in the moderators' group or supergroup."""
        chat = _chat_of(event)
        wanted = services.moderators_chat_id if services is not None else None
        return (
            wanted is not None
            and chat is not None
            and chat.id == wanted
            and chat.type in ("group", "supergroup")
        )


class StaffChat(ModeratorsChat):
    """The moderators' group or a private chat with the bot (where /link may be sent)."""

    async def __call__(
        self, event: TelegramObject, services: BotServices | None = None, **_: Any
    ) -> bool:
        """True in private or in the moderators' group."""
        chat = _chat_of(event)
        if chat is not None and chat.type == "private":
            return True
        return await super().__call__(event, services=services)


async def _answer(query: CallbackQuery, text: str, *, alert: bool = False) -> None:
    # A retried update finds the query already answered (or too old): that is fine.
    with contextlib.suppress(TelegramBadRequest):
        await query.answer(text, show_alert=alert)


async def _show_outcome(query: CallbackQuery, line: str) -> None:
    message = query.message
    if not isinstance(message, Message) or not message.text or line in message.text:
        return
    with contextlib.suppress(TelegramBadRequest):  # too old to edit, or edited meanwhile
        await message.edit_text(f"{message.text}\n\n{line}")


async def press(query: CallbackQuery, *, session: AsyncSession, texts: Texts) -> None:
    """A card's button: resolve its token, check who pressed, decide once, show the outcome."""
    try:
        pressed = await press_button(
            session, token=query.data or "", telegram_user_id=query.from_user.id
        )
    except ButtonInvalid:
        await _answer(query, texts("mod.button_invalid"), alert=True)
        return
    except NotLinked:
        await _answer(query, texts("mod.not_linked"), alert=True)
        return
    except PermissionError:
        await _answer(query, texts("mod.not_allowed"), alert=True)
        return
    key = OUTCOMES.get(pressed.status)
    outcome = texts(key) if key else pressed.status
    await _answer(query, texts(ANSWERS[pressed.kind], outcome=outcome))
    if pressed.kind in ("decided", "already"):
        line = texts("mod.card_decided", outcome=outcome, who=pressed.by or "?")
        await _show_outcome(query, line)


async def link(
    message: Message,
    *,
    command: CommandObject,
    conversation: Conversation,
    session: AsyncSession,
    services: BotServices,
) -> None:
    """/link CODE: this Telegram account presses buttons for the staff account that made CODE."""
    if message.from_user is None:
        return
    texts = conversation.texts
    try:
        staff = await link_telegram(
            session,
            code=command.args or "",
            telegram_user_id=message.from_user.id,
            limiter=services.limiter,
        )
    except RateLimited:
        await conversation.say(texts("mod.link_slow_down"))
        return
    except InvalidInput:
        await conversation.say(texts("mod.link_invalid"))
        return
    await conversation.say(texts("mod.linked", who=label_of(staff)))


def build_router() -> Router:
    """The moderators' router; put it right after the limits router, before the tipster ones."""
    router = Router(name="moderators")
    router.callback_query.filter(ModeratorsChat())
    router.callback_query.register(press)
    router.message.middleware(ConversationMiddleware())
    router.message.register(link, Command("link"), StaffChat())
    return router
