"""A tipster over their message rate is told once, politely, and the rest is dropped."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from core.i18n import Texts
from handlers.telegram.filters import OverLimit


async def message_over_limit(message: Message, texts: Texts, notify_limit: bool) -> None:
    """Say 'slow down' once a minute."""
    if notify_limit:
        await message.answer(texts("limits.slow_down"))


async def press_over_limit(
    query: CallbackQuery, texts: Texts, notify_limit: bool, acknowledged: bool = False
) -> None:
    """Answer the press with 'slow down' so the client stops spinning.

    When the webhook's response already answered it (acknowledged), the notice can no longer
    go on the answer: it is said in the chat instead, once a minute as for messages.
    """
    if not acknowledged:
        with contextlib.suppress(TelegramBadRequest):  # a retried update finds it answered
            await query.answer(texts("limits.slow_down"))
    elif notify_limit and query.bot is not None:
        await query.bot.send_message(query.from_user.id, texts("limits.slow_down"))


def build_router() -> Router:
    """Catch everything from a tipster over their limit, before any other router."""
    router = Router(name="limits")
    router.message.register(message_over_limit, OverLimit())
    router.callback_query.register(press_over_limit, OverLimit())
    return router
