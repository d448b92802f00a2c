"""The channel interface on Telegram: text with inline buttons, photos, location requests."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, cast

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.vault import Vault, telegram_source_key
from handlers.context import BotServices, Sending
from handlers.engine.channel import Keyboard, Origin
from handlers.engine.wizard import Conversation
from handlers.telegram.keyboards import DraftSend
from storage.models import Tipster

TELEGRAM_TEXT_LIMIT = 4096
MARKUPS = 4096
"""Keyboards kept converted: the shared ones (one per language) and recent choice lists."""

# True while handling a button press the webhook already answered in its response (set from
# the update's `acknowledged` by bot.processor): acknowledge() then makes no call.
answered_at_admission: ContextVar[bool] = ContextVar("answered_at_admission", default=False)


async def acknowledge(query: CallbackQuery) -> None:
    """Stop the button's spinner; a retried update finds the query already answered or too old."""
    if answered_at_admission.get():
        return
    with contextlib.suppress(TelegramBadRequest):
        await query.answer()


class SendText(SendMessage):
    """sendMessage with Telegram's answer kept as plain JSON, not parsed into a Message.

    A conversation's questions never look at the message they sent; building one (a Chat, a
    User, the keyboard echoed back, each object bound to the bot) cost about a fifth of a reply.
    """

    __returning__ = dict  # type: ignore[assignment]


async def send_text(
    bot: Bot | None, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> dict[str, Any]:
    """Send a text message (with its buttons); Telegram's answer as JSON."""
    if bot is None:
        raise RuntimeError("event without a bot")
    method = SendText(chat_id=chat_id, text=text, reply_markup=keyboard)
    return cast(dict[str, Any], await bot(method))


@lru_cache(maxsize=MARKUPS)
def inline_markup(buttons: Keyboard) -> InlineKeyboardMarkup:
    """The engine's buttons as Telegram inline buttons (built once per keyboard: a markup's
    pydantic models cost 30-80 us, and nothing changes a keyboard once sent)."""
    rows = [
        [InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row] for row in buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def origin(vault: Vault, kind: str, chat_id: int, draft_id: str) -> Origin:
    """A draft sent from a Telegram chat."""
    key = telegram_source_key(vault, kind=kind, chat_id=chat_id, draft_id=draft_id)
    return Origin("telegram", key)


Send = Callable[[Any, str, Sending], Awaitable[None]]
"""A flow's move that sends its draft once."""


def send_button(turn_of: Callable[[Conversation], Awaitable[Any]], kind: str, send: Send) -> Any:
    """The handler of a flow's Send button: the draft goes once, from this chat (`kind`: "tip",
    "case"), through the flow's `send`."""

    async def on_send(
        query: CallbackQuery,
        *,
        callback_data: DraftSend,
        conversation: Conversation,
        session: AsyncSession,
        tipster: Tipster,
        services: BotServices,
    ) -> None:
        await acknowledge(query)
        draft = callback_data.draft
        sent_from = origin(services.vault, kind, conversation.chat_id, draft)
        turn = await turn_of(conversation)
        await send(turn, draft, Sending(sent_from, session, tipster, services))

    return on_send


class TelegramChannel:
    """The engine's channel on one bot."""

    text_limit = TELEGRAM_TEXT_LIMIT

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str, buttons: Keyboard | None = None) -> None:
        """sendMessage with inline buttons."""
        await send_text(self.bot, chat_id, text, inline_markup(buttons) if buttons else None)

    async def send_photo(self, chat_id: int, photo: str, caption: str = "") -> None:
        """sendPhoto of a Telegram file id."""
        await self.bot.send_photo(chat_id, photo, caption=caption or None)

    async def ask_location(self, chat_id: int, text: str) -> None:
        """A one-time keyboard with Telegram's "share location" button."""
        share = KeyboardButton(text=text, request_location=True)
        keys = ReplyKeyboardMarkup(keyboard=[[share]], one_time_keyboard=True, resize_keyboard=True)
        await self.bot.send_message(chat_id, text, reply_markup=keys)
