"""The overall rate of incoming chat messages on WhatsApp (the chat processor SMS shares):
beyond it a message stays in the inbox, not a failed attempt, and is answered once the rate has
room, in order per sender; the person is told once that it is kept. Through Redis the rate holds
across processors."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from core.limits import MemoryRateLimiter, RedisRateLimiter, parse_rates
from handlers.chats.processor import ChatProcessor
from handlers.context import BotServices, Limits
from storage.models import WhatsAppInbound
from tests.chat_workers import Clock, Later
from tests.fakes.whatsapp import payloads as wa
from tests.redis_server import REDIS_URL, require_redis
from tests.whatsapp.chats import EN, line, whatsapp_line

SENDERS = [f"4477009002{n:02d}" for n in range(3)]
BUSY = EN("limits.busy")


@pytest.fixture
async def tip_line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as tip_line:
        yield tip_line


async def _send(tip_line, sender: str, text: str) -> None:
    fake = tip_line.world.fake
    message = wa.message(fake.phone_number_id, sender, *wa.text(text))
    assert await fake.deliver(tip_line.world.url, message) == 200


def _replies(tip_line, sender: str) -> list[str]:
    return [line(send) for send in tip_line.world.fake.sends if send.to == sender]


async def _inbox(sessions) -> list[tuple[str, int, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(select(WhatsAppInbound).order_by(WhatsAppInbound.id))
        return [(m.status, m.attempts, m.last_error) for m in rows]


def _limited(services: BotServices, rates: str) -> Clock:
    clock = Clock()
    services.limiter = MemoryRateLimiter(clock=clock)
    services.limits = Limits(overall=parse_rates(rates))
    return clock


async def test_a_message_beyond_the_overall_rate_is_kept_then_answered_in_order(tip_line, sessions):
    limiter_clock = _limited(tip_line.processor.services, "4/1h")  # 2 opening a conversation
    for sender in SENDERS:
        await _send(tip_line, sender, "a boy by the river")
    await _send(tip_line, SENDERS[2], "yesterday")
    later = tip_line.processor.clock = Later()
    await tip_line.settle()

    assert [r.split("\n")[0] for r in _replies(tip_line, SENDERS[2])] == [BUSY]
    assert await _inbox(sessions) == [
        ("processed", 0, None),
        ("processed", 0, None),
        ("pending", 0, None),
        ("pending", 0, None),
    ]
    await tip_line.settle()  # not due yet: nothing more, and no second notice
    assert len(_replies(tip_line, SENDERS[2])) == 1

    limiter_clock.now += 3600
    later.at += timedelta(hours=1)
    await tip_line.settle()
    answers = _replies(tip_line, SENDERS[2])
    assert answers[1] == _replies(tip_line, SENDERS[0])[0]  # the sighting's question first
    assert len(answers) == 3  # then the answer to "yesterday"
    assert {status for status, _, _ in await _inbox(sessions)} == {"processed"}


async def _redis_processor(first: ChatProcessor, prefix: str) -> ChatProcessor:
    services = BotServices(
        vault=first.services.vault,
        geocoder=first.services.geocoder,
        limits=Limits(overall=parse_rates("4/1h")),  # 2 opening a conversation
        limiter=RedisRateLimiter(Redis.from_url(REDIS_URL), prefix),
    )
    return ChatProcessor(sessions=first.sessions, transport=first.transport, services=services)


async def test_through_redis_the_overall_rate_holds_across_two_processors(tip_line, sessions):
    await require_redis()
    prefix = f"tipline-test-{secrets.token_hex(4)}:rl:"
    one = await _redis_processor(tip_line.processor, prefix)
    two = await _redis_processor(tip_line.processor, prefix)
    for sender, processor in zip(SENDERS, (one, two, one), strict=True):
        await _send(tip_line, sender, "a boy by the river")
        assert await processor.run_once() == 1
    statuses = [status for status, _, _ in await _inbox(sessions)]
    # Each processor counted one message of its own: the third is over the shared two.
    assert statuses == ["processed", "processed", "pending"]
    client = Redis.from_url(REDIS_URL)
    await client.delete(*[key async for key in client.scan_iter(match=f"{prefix}*")])
    await client.aclose()
