"""Two relays sharing Telegram's buckets through Redis stay within one global limit together,
against the fake Bot API with Telegram's flood limits on (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.sender import TelegramSender
from core.delivery.outbox import enqueue, telegram_text
from core.identity.vault import Vault
from storage.photostore import PhotoStore
from tests.databases import IN_CI
from tests.fakes.telegram.limits import RateLimits
from tests.fakes.telegram.server import FakeTelegram
from tests.workers.test_relay import rows
from workers.buckets import Limits
from workers.relay import Relay
from workers.shared_buckets import SharedBuckets

REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
MESSAGES = 150


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}:"


async def _fill(sessions, recipients: list[str]) -> None:
    async with sessions() as session:
        for n, recipient in enumerate(recipients):
            await enqueue(
                session,
                channel="telegram",
                recipient=recipient,
                payload=telegram_text(f"message {n}"),
                key=f"shared-{n}",
            )
        await session.commit()


async def _drain_with_two(sessions, fake, tmp_media, shared: list[SharedBuckets | None]) -> None:
    vault = Vault(Vault.new_key())
    display = PhotoStore(tmp_media / "display")
    bots = [fake.bot() for _ in shared]
    relays = [
        Relay(
            sessions=sessions,
            senders={
                "telegram": TelegramSender(
                    bot=bot, vault=vault, sessions=sessions, display_store=display
                )
            },
            shared=buckets,
            send_timeout=5,
            lease=10,
        )
        for bot, buckets in zip(bots, shared, strict=True)
    ]
    tasks = [asyncio.create_task(relay.run_forever()) for relay in relays]
    try:
        async with asyncio.timeout(90):
            while any(r.status != "sent" for r in await rows(sessions)):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bot in bots:
            await bot.session.close()


async def test_two_relays_sharing_redis_stay_within_one_global_limit(
    sessions, tmp_media, redis, prefix
):
    await _fill(sessions, [f"chat:{1000 + n}" for n in range(MESSAGES)])
    async with FakeTelegram(rate_limits=RateLimits()) as fake:
        shared = [SharedBuckets(Redis.from_url(REDIS_URL), Limits(), prefix=prefix) for _ in "ab"]
        await _drain_with_two(sessions, fake, tmp_media, shared)
        sent = [c for c in fake.calls("sendMessage") if c.ok]
        assert len({c.params["text"] for c in sent}) == len(sent) == MESSAGES
        # The fake's own 30/s bucket (burst 30) never had to refuse either relay.
        assert fake.limiter.rejected["global"] == 0, fake.limiter.rejected


async def test_many_messages_to_one_chat_from_two_relays_keep_its_pace(
    sessions, tmp_media, redis, prefix
):
    await _fill(sessions, ["chat:4242"] * 6)
    async with FakeTelegram(rate_limits=RateLimits(per_chat_burst=1)) as fake:
        shared = [SharedBuckets(Redis.from_url(REDIS_URL), Limits(), prefix=prefix) for _ in "ab"]
        await _drain_with_two(sessions, fake, tmp_media, shared)
        texts = [c.params["text"] for c in fake.calls("sendMessage") if c.ok]
        assert texts == [f"message {n}" for n in range(6)]  # in order, once each
        assert fake.limiter.rejected["chat"] == 0


async def test_a_flood_pause_holds_the_chat_for_every_process(redis, prefix):
    first = SharedBuckets(redis, Limits(), prefix=prefix)
    other = SharedBuckets(Redis.from_url(REDIS_URL), Limits(), prefix=prefix)
    await first.pause("chat:7", 5, group=False)
    [wait] = await other.take([("chat:7", False)])
    assert 4 < wait <= 5
    assert await other.take([("chat:8", False)]) == [0.0]  # others still go
    assert (await other.room())[0] == Limits().global_burst - 1
