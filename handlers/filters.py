"""Async filters (a sync or magic filter costs a thread hop on every update)."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject


class PrivateChat(Filter):
    """Only private chats with a person: the tipster routers never fire in groups."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True for a private chat."""
        if isinstance(event, CallbackQuery):
            message = event.message
            return message is not None and message.chat.type == "private"
        return isinstance(event, Message) and event.chat.type == "private"


class OverLimit(Filter):
    """True when the tipster is over their message rate (set by ContextMiddleware)."""

    async def __call__(self, event: TelegramObject, over_limit: bool = False, **_: Any) -> bool:
        """The middleware's verdict."""
        return over_limit
