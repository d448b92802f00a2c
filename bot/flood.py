"""The inbox processor's replies take Telegram's global tokens from the bucket the relays share.

With several processes (roles on PostgreSQL + Redis) a reply sent while handling an update and
a message the relay sends count against the same 30/s; without this the processor's replies
would come on top of the relays' share. Only calls that post a message count (Telegram's limit
is on messages; answering a button press or reading a file is not one).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod

from workers.shared_buckets import SharedBuckets

_SENDS = ("send", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages")


class SharedFloodLimit(BaseRequestMiddleware):
    """Wait for a global token before each message the bot posts."""

    def __init__(self, shared: SharedBuckets) -> None:
        self.shared = shared

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        """Take a token first when the call posts a message."""
        if method.__api_method__.startswith(_SENDS):
            await self.shared.wait_global()
        return await make_request(bot, method)
