"""The composition of the Telegram side: FSM storage and limiter follow the configuration."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.fsm import KeyedStateKeys, SqlStorage
from core.identity.vault import Vault
from core.limits import RedisRateLimiter
from handlers.context import BotServices
from settings import Settings
from tests.bot.conftest import geocoder
from tests.redis_server import REDIS_URL, require_redis
from tipline.startup import StartupError, webhook_secret
from tipline.telegram import build_telegram

KEY = StorageKey(bot_id=1, chat_id=2, user_id=2)


def _settings(**values: object) -> Settings:
    return Settings(bot_token="1:x", telegram_api_base="http://127.0.0.1:1", **values)


def _services() -> BotServices:
    return BotServices(vault=Vault(Vault.new_key()), geocoder=geocoder())


async def test_database_fsm_storage_by_default(sessions):
    side = build_telegram(_settings(), sessions, _services())
    assert isinstance(side.processor.dispatcher.storage, SqlStorage)
    await side.close()


async def test_redis_holds_drafts_and_limits_when_configured(sessions):
    await require_redis()
    services = _services()
    side = build_telegram(_settings(redis_url=REDIS_URL), sessions, services)
    storage = side.processor.dispatcher.storage
    assert isinstance(storage, RedisStorage)
    assert isinstance(services.limiter, RedisRateLimiter)
    await storage.set_state(KEY, "Report:what")
    await storage.set_data(KEY, {"draft": {"text": "a boy in a red coat"}})
    # Keyed names in Redis too: no Telegram id in a key (aiogram's default is fsm:<chat>:<user>).
    assert await Redis.from_url(REDIS_URL).exists(f"fsm:{KEY.chat_id}:{KEY.user_id}:state") == 0
    again = RedisStorage.from_url(REDIS_URL, key_builder=KeyedStateKeys(services.vault))
    assert await again.get_state(KEY) == "Report:what"
    assert (await again.get_data(KEY))["draft"]["text"] == "a boy in a red coat"
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert [await services.limiter.hit("t", limit=2, window=5) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    await Redis.from_url(REDIS_URL).delete("tipline:rl:t")
    await again.close()
    await side.close()


def test_webhook_mode_refuses_a_short_secret():
    with pytest.raises(StartupError, match="at least 32"):
        webhook_secret(_settings(webhook_url="https://x/telegram/webhook", webhook_secret="short"))
    assert webhook_secret(_settings(webhook_secret="z" * 32)) == "z" * 32
