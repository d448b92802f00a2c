"""A tipster over their message rate is told once, politely, and the rest is dropped."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from core.i18n import Texts
from handlers.filters import OverLimit


async def message_over_limit(message: Message, texts: Texts, notify_limit: bool) -> None:
    """Say 'slow down' once a minute."""
    if notify_limit:
        await message.answer(texts("limits.slow_down"))


async def press_over_limit(query: CallbackQuery, texts: Texts) -> None:
    """Answer the press so the client stops spinning (a retried update finds it answered)."""
    with contextlib.suppress(TelegramBadRequest):
        await query.answer(texts("limits.slow_down"))


def build_router() -> Router:
    """Catch everything from a tipster over their limit, before any other router."""
    router = Router(name="limits")
    router.message.register(message_over_limit, OverLimit())
    router.callback_query.register(press_over_limit, OverLimit())
    return router
