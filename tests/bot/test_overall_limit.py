"""The overall rate of incoming chat messages on Telegram: beyond it a message is kept in the
inbox (not a failed attempt), handled once the rate has room, in order within its chat; its
tipster is told once a minute. Messages opening a conversation may take half of the rate; a
conversation under way the whole of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.limits import MemoryRateLimiter, parse_rates
from core.metrics import REGISTRY
from handlers.context import Limits
from storage.models import InboxUpdate
from storage.types import utcnow
from tests.bot.fixtures import assert_all_processed
from tests.bot.harness import Transcript
from tests.chat_workers import Clock

BUSY = "Many messages are reaching the tip line right now"
SIGHTING = "I saw a boy in a red coat at the bus station"


@pytest.fixture
def clock(services) -> Clock:
    """An overall rate of 4 messages an hour (2 opening a conversation), on a clock the test
    moves."""
    clock = Clock()
    services.limiter = MemoryRateLimiter(clock=clock)
    services.limits = Limits(overall=parse_rates("4/1h"))
    return clock


async def _run(chat: Transcript) -> None:
    while await chat.processor.run_once():
        pass


async def _make_due(chat: Transcript) -> None:
    async with chat.sessions() as session:
        await session.execute(
            update(InboxUpdate).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def _rows(chat: Transcript) -> list[tuple[str, int, str | None]]:
    async with chat.sessions() as session:
        stmt = select(InboxUpdate.status, InboxUpdate.attempts, InboxUpdate.last_error)
        return [tuple(row) for row in (await session.execute(stmt.order_by(InboxUpdate.id)))]


def _deferred() -> float:
    """Telegram's messages held back so far, as GET /metrics shows them."""
    return REGISTRY.get_sample_value("tipline_chat_deferred_total", {"channel": "telegram"}) or 0.0


def _busy(chat: Transcript, chat_id: int) -> int:
    return sum(text.startswith(BUSY) for text in chat.fake.sent_texts(chat_id))


async def test_a_message_beyond_the_overall_rate_is_kept_and_handled_later(chat, fake, clock):
    await chat.send(fake.command(1, "start"))
    await chat.send(fake.command(2, "start"))
    deferred_before = _deferred()
    before = utcnow()
    await chat.send(fake.command(3, "start"))

    assert len(fake.sent_texts(3)) == 1 and _busy(chat, 3) == 1
    async with chat.sessions() as session:
        row = (await session.execute(select(InboxUpdate).order_by(InboxUpdate.id.desc()))).scalar()
    assert row is not None and row.status == "pending" and row.attempts == 0
    assert row.next_attempt_at.replace(tzinfo=before.tzinfo) > before + timedelta(minutes=59)
    assert _deferred() == deferred_before + 1

    clock.now += 3600
    await _make_due(chat)
    await _run(chat)
    assert fake.sent_texts(3)[-1] == fake.sent_texts(1)[-1]  # the welcome, as the others had it
    await assert_all_processed(chat)


async def test_a_later_message_of_the_chat_waits_behind_the_kept_one(chat, fake, clock):
    await chat.send(fake.command(1, "start"))
    await chat.send(fake.command(2, "start"))
    await chat.send(fake.command(3, "start"))  # kept for later
    await chat.send(fake.command(3, "language"))
    assert _busy(chat, 3) == 1 and len(fake.sent_texts(3)) == 1

    clock.now += 3600
    await _make_due(chat)
    await chat.processor.run_once()
    assert fake.sent_texts(3)[-1] == fake.sent_texts(1)[-1]  # /start answered first
    await _run(chat)
    assert len(fake.sent_texts(3)) == 3  # then /language
    await assert_all_processed(chat)


async def test_the_tipster_is_told_once_a_minute_and_a_kept_message_is_never_parked(
    chat, fake, clock
):
    await chat.send(fake.command(1, "start"))
    await chat.send(fake.command(2, "start"))
    chat.processor.max_attempts = 2
    await chat.send(fake.command(3, "start"))
    for _ in range(4):  # taken up again and again while the hour's rate is spent
        await _make_due(chat)
        await _run(chat)
    assert _busy(chat, 3) == 1
    clock.now += 61
    await _make_due(chat)
    await _run(chat)
    assert _busy(chat, 3) == 2
    assert (await _rows(chat))[-1] == ("pending", 0, None)


async def test_a_conversation_under_way_takes_the_half_new_ones_may_not_and_no_more(
    chat, fake, services
):
    services.limits = Limits(overall=parse_rates("2/1h"))
    await chat.send(fake.text_message(1, SIGHTING))  # opens a report: the hour's one opening
    asked = len(fake.sent_texts(1))
    await chat.send(fake.command(2, "start"))  # another opening waits
    await chat.send(fake.text_message(1, "yesterday evening"))  # the report goes on
    assert _busy(chat, 2) == 1 and len(fake.sent_texts(2)) == 1
    assert len(fake.sent_texts(1)) > asked and _busy(chat, 1) == 0

    await chat.send(fake.text_message(1, "near the bridge"))  # beyond the whole rate: it waits
    assert _busy(chat, 1) == 1
    statuses = [status for status, _, _ in await _rows(chat)]
    assert statuses == ["done", "pending", "done", "pending"]


async def test_over_their_own_rate_a_message_is_still_dropped_not_kept(chat, fake, services):
    services.limits = Limits(messages_per_minute=1, overall=parse_rates("1/1h"))
    await chat.send(fake.command(1, "start"))
    await chat.send(fake.command(1, "start"))  # over the tipster's own rate: slow down

    assert [status for status, _, _ in await _rows(chat)] == ["done", "done"]
    assert _busy(chat, 1) == 0


async def test_a_press_beyond_the_whole_rate_stops_its_spinner_and_is_answered_later(
    chat, fake, services, clock
):
    services.limits = Limits(overall=parse_rates("1/1h"))
    await chat.send(fake.command(1, "start"))
    await chat.press(1, "Report a sighting")  # the hour's one message is spent: kept

    assert [a.ok for a in fake.calls("answerCallbackQuery")] == [True]
    assert _busy(chat, 1) == 1
    assert [status for status, _, _ in await _rows(chat)] == ["done", "pending"]
    clock.now += 3600
    await _make_due(chat)
    await _run(chat)
    assert "What did you see?" in chat.last_text(1)
    await assert_all_processed(chat)
