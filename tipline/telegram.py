"""Wiring of the Telegram side: bot, dispatcher, inbox processor, polling or webhook admission."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.factory import create_bot, create_dispatcher
from bot.fsm import KeyedStateKeys, SqlStorage
from bot.polling import DurablePoller
from bot.processor import InboxProcessor
from core.delivery.inbox import AdmissionBatcher
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from handlers import build_routers
from handlers.context import BotServices
from settings import Settings
from tipline.infra import fsm_prefix
from tipline.startup import StartupError, webhook_secret

log = logging.getLogger("tipline.telegram")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


@dataclass(slots=True)
class TelegramSide:
    """The running pieces of the Telegram side."""

    bot: Bot
    processor: InboxProcessor
    admission: AdmissionBatcher | None = None
    loops: list[Coroutine[Any, Any, None]] = field(default_factory=list)

    async def close(self) -> None:
        """Release connections (and close loops that were built but never started)."""
        for loop in self.loops:
            if inspect.getcoroutinestate(loop) == inspect.CORO_CREATED:
                loop.close()
        if self.admission is not None:
            await self.admission.close()
        await self.bot.session.close()


def _fsm_storage(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> BaseStorage:
    if settings.redis_url:
        keys = KeyedStateKeys(vault, prefix=fsm_prefix(settings))
        return RedisStorage.from_url(settings.redis_url, key_builder=keys)
    # Never a Telegram id in a key, in Redis or in the database.
    return SqlStorage(sessions, keys=KeyedStateKeys(vault))


def _limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        from redis.asyncio import Redis

        return RedisRateLimiter(Redis.from_url(settings.redis_url), f"{settings.redis_prefix}rl:")
    return MemoryRateLimiter()


def build_telegram(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    services: BotServices,
    *,
    admission: bool = True,
    limiter: RateLimiter | None = None,
) -> TelegramSide:
    """Build the bot and the loops that feed it, for polling or webhook mode (`admission`:
    whether this process also admits webhook updates; the bot role leaves that to web).
    `limiter`: one the process's other chat channels share (else one of its own)."""
    assert settings.bot_token is not None
    token = settings.bot_token.get_secret_value()
    bot = create_bot(token=token, api_base=settings.telegram_api_base)
    services.limiter = limiter if limiter is not None else _limiter(settings)
    dispatcher = create_dispatcher(
        storage=_fsm_storage(settings, sessions, services.vault),
        services=services,
        routers=build_routers(),
    )
    processor = InboxProcessor(sessions=sessions, dispatcher=dispatcher, bot=bot)
    side = TelegramSide(bot=bot, processor=processor)
    side.loops.append(processor.run_forever())
    if settings.webhook_url:
        webhook_secret(settings)
        if not admission:
            return side
        side.admission = AdmissionBatcher(
            sessions,
            chat_key=services.vault.chat_key,
            wakeup=processor.wakeup,
            handoff=processor.take,
            ready=processor.takes_handoffs,
        )
    else:
        poller = DurablePoller(
            sessions=sessions,
            token=token,
            api_base=settings.telegram_api_base,
            wakeup=processor.wakeup,
            chat_key=services.vault.chat_key,
        )
        side.loops.append(_poll(bot, poller))
    return side


async def _poll(bot: Bot, poller: DurablePoller) -> None:
    """Drop any webhook (getUpdates refuses to run beside one), then poll durably."""
    while True:
        try:
            await bot.delete_webhook(drop_pending_updates=False)
            break
        except Exception as exc:  # noqa: BLE001 - Telegram unreachable: keep trying, web runs on
            log.warning("cannot reach the Bot API (%s); retrying in 10s", exc)
            await asyncio.sleep(10)
    await poller.run_forever()


async def register_webhook(settings: Settings) -> str:
    """Tell Telegram where to deliver updates (`tipline webhook set`)."""
    if not settings.bot_token or not settings.webhook_url:
        raise StartupError("set TIPLINE_BOT_TOKEN and TIPLINE_WEBHOOK_URL first")
    secret = webhook_secret(settings)
    bot = create_bot(
        token=settings.bot_token.get_secret_value(), api_base=settings.telegram_api_base
    )
    try:
        await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
    finally:
        await bot.session.close()
    return settings.webhook_url
