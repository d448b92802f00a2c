"""Replies whose answer the bot does not use."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardMarkup


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
