"""The relay sends each outbox row once, within Telegram's limits, through the real aiogram Bot
talking to the fake Bot API server; every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.sender import TelegramSender
from core.delivery.outbox import (
    Outcome,
    Outgoing,
    enqueue,
    list_dead,
    requeue_dead,
    telegram_photo,
    telegram_text,
    tipster_recipient,
)
from core.identity.tipsters import get_or_create_tipster
from core.identity.vault import Vault
from storage.models import OutboxMessage
from storage.photostore import PhotoStore
from storage.types import utcnow
from tests.core.photos import photo_corpus
from tests.fakes.telegram.limits import RateLimits
from tests.fakes.telegram.server import FakeTelegram
from workers.buckets import Buckets, Limits, TokenBucket
from workers.relay import Relay, Retry

FAST = Retry(max_attempts=8, base=0.05, cap=0.2)


class FakeClock:
    """Time that moves only when told to (shared by the relay's buckets and the fake's limits)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recording:
    """A sender wrapper that notes when (on the relay's clock) each message went and to whom."""

    def __init__(self, inner: TelegramSender, clock: Callable[[], float]) -> None:
        self.inner = inner
        self.clock = clock
        self.sent: list[tuple[float, str]] = []

    async def send(self, message: Outgoing) -> Outcome:
        self.sent.append((self.clock(), message.recipient))
        return await self.inner.send(message)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as server:
        yield server


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


@pytest.fixture
def display(tmp_media) -> PhotoStore:
    return PhotoStore(tmp_media / "display")


@pytest.fixture
async def sender(fake, vault, sessions, display) -> AsyncIterator[TelegramSender]:
    bot = fake.bot()
    yield TelegramSender(
        bot=bot, vault=vault, sessions=sessions, display_store=display, request_timeout=1
    )
    await bot.session.close()


def relay_for(sessions, sender, **kwargs) -> Relay:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("send_timeout", 5)
    kwargs.setdefault("lease", 10)
    return Relay(sessions=sessions, senders={"telegram": sender}, **kwargs)


async def put(sessions, recipient: str, text: str, *, key: str | None = None, **payload) -> None:
    async with sessions() as session:
        await enqueue(
            session,
            channel="telegram",
            recipient=recipient,
            payload=telegram_text(text, **payload),
            key=key or text,
        )
        await session.commit()


async def rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.scalars(stmt)).all())


async def settle(sessions, relay: Relay, *, within: float = 20.0) -> list[OutboxMessage]:
    """Run the relay until no row is pending or sending; return the rows."""
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(within):
            while any(r.status in ("pending", "sending") for r in await rows(sessions)):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return await rows(sessions)


async def tipster_in_chat(sessions, vault: Vault, chat_id: int) -> int:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            vault,
            channel="telegram",
            external_id=str(chat_id),
            identity={"chat_id": chat_id, "user_id": chat_id},
            language="en",
        )
        return tipster.id


# --- delivery ----------------------------------------------------------------------------------


async def test_text_and_photo_reach_the_right_chats_with_protect_content_where_set(
    sessions, fake, vault, display, sender
):
    tipster_id = await tipster_in_chat(sessions, vault, 4242)
    photo = display.put(photo_corpus.plain_jpeg())
    await put(
        sessions,
        tipster_recipient(tipster_id),
        "Thank you. Is this her?",
        buttons=[[("Yes", "tip:9:yes"), ("No", "tip:9:no")]],
        protect=True,
    )
    async with sessions() as session:
        payload = telegram_photo(photo, "Seen near the station")
        await enqueue(
            session, channel="telegram", recipient="chat:-1001234", payload=payload, key="p1"
        )
        await session.commit()
    done = await settle(sessions, relay_for(sessions, sender))
    assert [r.status for r in done] == ["sent", "sent"]
    [text] = fake.calls("sendMessage", chat_id=4242)
    assert text.params["text"] == "Thank you. Is this her?"
    assert text.params["protect_content"] is True
    keyboard = text.params["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [["tip:9:yes", "tip:9:no"]]
    [sent_photo] = fake.calls("sendPhoto", chat_id=-1001234)
    assert sent_photo.params["caption"] == "Seen near the station"
    assert sent_photo.params.get("protect_content") in (False, None)
    [upload] = fake.uploads(-1001234)
    assert upload.data == display.get(photo)  # our clean copy, byte for byte
    assert all("4242" not in r.recipient and "4242" not in str(r.payload) for r in done)


async def test_a_new_row_goes_out_at_once_when_enqueued_in_process(sessions, fake, sender):
    task = asyncio.create_task(relay_for(sessions, sender, idle_interval=30).run_forever())
    await asyncio.sleep(0.3)  # the relay has looked, found nothing and is waiting
    await put(sessions, "chat:77", "hello")
    # The bell, not the 30 s idle interval: without it the send would come too late for this wait.
    await fake.wait_for_calls("sendMessage", chat_id=77, within=5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- failures ----------------------------------------------------------------------------------


async def test_flood_control_is_waited_out_then_delivered_once(sessions, fake, sender):
    fake.fail_next("sendMessage", status=429, retry_after=1)
    await put(sessions, "chat:5", "once")
    started = time.monotonic()
    [row] = await settle(sessions, relay_for(sessions, sender))
    assert row.status == "sent" and row.attempts == 1  # a 429 is not a failed attempt
    calls = fake.calls("sendMessage", chat_id=5)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].time - calls[0].time >= 0.95
    assert time.monotonic() - started >= 0.95
    assert fake.sent_texts(5) == ["once"]


async def test_server_error_then_success_is_retried_with_backoff(sessions, fake, sender):
    fake.fail_next("sendMessage", status=500, count=2)
    await put(sessions, "chat:5", "after two 500s")
    [row] = await settle(sessions, relay_for(sessions, sender))
    assert (row.status, row.attempts) == ("sent", 3)
    assert fake.sent_texts(5) == ["after two 500s"]


async def test_timeout_then_success(sessions, fake, sender):
    fake.timeout_next("sendMessage", 3)
    await put(sessions, "chat:5", "slow line")
    [row] = await settle(sessions, relay_for(sessions, sender))
    assert (row.status, row.attempts) == ("sent", 2)
    assert fake.sent_texts(5) == ["slow line"]


async def test_html_error_page_from_telegrams_proxy_is_transient(sessions, fake, sender):
    fake.fail_next("sendMessage", status=502, body="<html>502 Bad Gateway</html>")
    await put(sessions, "chat:5", "through nginx")
    [row] = await settle(sessions, relay_for(sessions, sender))
    assert (row.status, row.attempts) == ("sent", 2)


async def test_blocked_chat_is_parked_dead_with_a_reason_and_other_chats_still_get_theirs(
    sessions, fake, sender
):
    fake.block_chat(1)
    for chat in (1, 2, 3):
        await put(sessions, f"chat:{chat}", f"to {chat}")
    done = await settle(sessions, relay_for(sessions, sender))
    assert [r.status for r in done] == ["dead", "sent", "sent"]
    assert done[0].last_error == "403 Forbidden: bot was blocked by the user"
    assert done[0].attempts == 1
    assert fake.sent_texts(2) == ["to 2"] and fake.sent_texts(3) == ["to 3"]


async def test_deleted_chat_is_parked_dead(sessions, fake, sender):
    fake.delete_chat(9)
    await put(sessions, "chat:9", "gone")
    [row] = await settle(sessions, relay_for(sessions, sender))
    assert (row.status, row.last_error) == ("dead", "400 Bad Request: chat not found")


async def test_too_many_failures_park_the_row_dead(sessions, fake, sender):
    fake.fail_next("sendMessage", status=500, count=50)
    await put(sessions, "chat:5", "never")
    relay = relay_for(sessions, sender, retry=Retry(max_attempts=3, base=0.02, cap=0.05))
    [row] = await settle(sessions, relay)
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error == "gave up: 5xx Internal Server Error"


async def test_unreachable_recipients_and_missing_photos_are_dead_not_retried(
    sessions, fake, vault, sender
):
    async with sessions() as session:
        web_tipster = await get_or_create_tipster(
            session, vault, channel="web", external_id="n1", identity={}, language="en"
        )
        await enqueue(
            session,
            channel="telegram",
            recipient=tipster_recipient(web_tipster.id),
            payload=telegram_text("no chat"),
            key="a",
        )
        await enqueue(
            session,
            channel="telegram",
            recipient="tipster:999999",
            payload=telegram_text("nobody"),
            key="b",
        )
        await enqueue(
            session,
            channel="telegram",
            recipient="chat:5",
            payload=telegram_photo("cd" * 32, "lost"),
            key="c",
        )
        await session.commit()
    done = await settle(sessions, relay_for(sessions, sender))
    assert [(r.status, r.attempts) for r in done] == [("dead", 1)] * 3
    assert [r.last_error for r in done] == [
        "unreachable: the tipster has no Telegram chat",
        "unreachable: the tipster has no identity on file",
        "the display copy of the photo is missing or damaged",
    ]
    assert fake.calls() == []


async def test_dead_rows_are_listed_and_requeued_rows_are_delivered(sessions, fake, sender):
    fake.block_chat(1)
    await put(sessions, "chat:1", "later")
    relay = relay_for(sessions, sender)
    await settle(sessions, relay)
    async with sessions() as session:
        [dead] = await list_dead(session)
        fake.unblock_chat(1)
        assert await requeue_dead(session, [dead.id]) == 1
    [row] = await settle(sessions, relay)
    assert row.status == "sent" and fake.sent_texts(1) == ["later"]


async def test_a_slow_recipient_does_not_hold_up_the_others(sessions, fake, sender):
    # The first send (chat 1, the oldest row) hangs far longer than the waits below, and the
    # relay's timeout is longer still: the others can only arrive if they do not wait for it.
    fake.timeout_next("sendMessage", 60)
    await put(sessions, "chat:1", "slow")
    for chat in range(2, 7):
        await put(sessions, f"chat:{chat}", f"to {chat}")
    task = asyncio.create_task(
        relay_for(sessions, sender, send_timeout=60, lease=120).run_forever()
    )
    for chat in range(2, 7):
        await fake.wait_for_calls("sendMessage", chat_id=chat, within=10)
    # Chat 1's send is still hanging: not answered, not sent.
    assert fake.sent_texts(1) == []
    assert [r.status for r in await rows(sessions) if r.recipient == "chat:1"] != ["sent"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- idempotency -------------------------------------------------------------------------------


async def test_a_rolled_back_enqueue_sends_nothing(sessions, fake, sender):
    async with sessions() as session:
        await enqueue(
            session, channel="telegram", recipient="chat:5", payload=telegram_text("x"), key="x"
        )
        await session.rollback()
    assert await relay_for(sessions, sender).run_once() == 0
    assert fake.calls() == []


async def test_the_same_key_twice_is_one_message(sessions, fake, sender):
    await put(sessions, "chat:5", "decision", key="decision:1:family")
    await put(sessions, "chat:5", "decision again", key="decision:1:family")
    await settle(sessions, relay_for(sessions, sender))
    assert fake.sent_texts(5) == ["decision"]


async def test_an_expired_lease_is_picked_up_and_a_live_one_is_left_alone(sessions, fake, sender):
    await put(sessions, "chat:1", "crashed mid-send")
    await put(sessions, "chat:2", "still sending elsewhere")
    async with sessions() as session:
        base = update(OutboxMessage).values(status="sending")
        past = utcnow().replace(year=2000)
        future = utcnow().replace(year=2100)
        await session.execute(
            base.where(OutboxMessage.recipient == "chat:1").values(next_attempt_at=past)
        )
        await session.execute(
            base.where(OutboxMessage.recipient == "chat:2").values(next_attempt_at=future)
        )
        await session.commit()
    assert await relay_for(sessions, sender).run_once() == 1
    assert fake.sent_texts(1) == ["crashed mid-send"] and fake.sent_texts(2) == []


# --- rate limits -------------------------------------------------------------------------------


async def paced(
    sessions, fake_clock: FakeClock, relay: Relay, sender: Recording, step: float = 1 / 8
) -> None:
    """Drive the relay in rounds on a fake clock (exact binary steps) until every row is sent."""
    total = len(await rows(sessions))
    for _ in range(20_000):
        await relay.run_once()
        if len(sender.sent) >= total:
            assert {r.status for r in await rows(sessions)} == {"sent"}
            return
        fake_clock.advance(step)
    raise AssertionError("not all sent")


async def test_one_private_chat_gets_one_message_a_second_and_no_429(sessions, vault, display):
    clock = FakeClock()
    async with FakeTelegram(rate_limits=RateLimits(), clock=clock) as fake:
        bot = fake.bot()
        sender = Recording(
            TelegramSender(bot=bot, vault=vault, sessions=sessions, display_store=display), clock
        )
        for i in range(20):
            await put(sessions, "chat:42", f"message {i}")
        await paced(sessions, clock, relay_for(sessions, sender, clock=clock), sender)
        await bot.session.close()
        assert fake.stats()["status_429"] == 0
        assert fake.sent_texts(42) == [f"message {i}" for i in range(20)]  # in order
    times = [t for t, _ in sender.sent]
    assert 18.95 <= times[-1] - times[0] <= 19.5
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.999


async def test_ten_chats_interleave_fairly(sessions, vault, display):
    clock = FakeClock()
    async with FakeTelegram(rate_limits=RateLimits(), clock=clock) as fake:
        bot = fake.bot()
        sender = Recording(
            TelegramSender(bot=bot, vault=vault, sessions=sessions, display_store=display), clock
        )
        for chat in range(1, 11):  # chat by chat: chat 1's ten rows are the oldest
            for i in range(10):
                await put(sessions, f"chat:{chat}", f"{chat}/{i}")
        await paced(sessions, clock, relay_for(sessions, sender, clock=clock), sender)
        await bot.session.close()
        assert fake.stats()["status_429"] == 0
    order = [recipient for _, recipient in sender.sent]
    for n in range(10):  # every "lap" serves each chat once
        assert len(set(order[n * 10 : (n + 1) * 10])) == 10
    assert 8.95 <= sender.sent[-1][0] - sender.sent[0][0] <= 9.5


async def test_a_group_gets_at_most_twenty_a_minute(sessions, vault, display):
    clock = FakeClock()
    async with FakeTelegram(rate_limits=RateLimits(), clock=clock) as fake:
        bot = fake.bot()
        sender = Recording(
            TelegramSender(bot=bot, vault=vault, sessions=sessions, display_store=display), clock
        )
        for i in range(23):
            await put(sessions, "chat:-1001", f"group {i}")
        relay = relay_for(sessions, sender, clock=clock)
        await paced(sessions, clock, relay, sender, step=0.25)
        await bot.session.close()
        assert fake.stats()["status_429"] == 0
    times = [t for t, _ in sender.sent]
    for i in range(len(times) - 20):
        assert times[i + 20] - times[i] >= 60  # any 21 sends span at least a minute


async def test_a_bucket_paused_by_429_skips_its_chat_while_others_flow():
    clock = FakeClock()
    buckets = Buckets(Limits(), clock)
    buckets.take("chat:1", group=False)
    buckets.pause("chat:1", 5, group=False)
    assert set(buckets.not_ready()) == {"chat:1"}
    clock.advance(4.9)
    assert set(buckets.not_ready()) == {"chat:1"}
    clock.advance(0.2)
    assert buckets.not_ready() == {}


def test_token_bucket_refills_at_its_rate_up_to_its_capacity():
    bucket = TokenBucket(rate=2, capacity=3, now=0)
    for _ in range(3):
        assert bucket.wait(0) == 0
        bucket.take(0)
    assert bucket.wait(0) == pytest.approx(0.5)
    assert bucket.available(10) == 3


def test_limits_refuse_more_than_telegrams_thirty_a_second():
    with pytest.raises(ValueError):
        Limits(global_per_second=31)
    with pytest.raises(ValueError):
        Limits(chat_burst=0)


# --- several relays ----------------------------------------------------------------------------


async def test_two_relays_on_postgresql_deliver_200_rows_without_duplicates(
    sessions, fake, vault, display
):
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims: PostgreSQL only (SQLite runs one relay)")
    for n in range(200):
        await put(sessions, f"chat:{1 + n % 100}", f"row {n}")
    bots = [fake.bot(), fake.bot()]
    senders = [
        Recording(
            TelegramSender(bot=bot, vault=vault, sessions=sessions, display_store=display),
            time.monotonic,
        )
        for bot in bots
    ]
    relays = [relay_for(sessions, sender) for sender in senders]
    tasks = [asyncio.create_task(relay.run_forever()) for relay in relays]
    try:
        async with asyncio.timeout(60):
            while any(r.status != "sent" for r in await rows(sessions)):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bot in bots:
            await bot.session.close()
    texts = Counter(c.params["text"] for c in fake.calls("sendMessage") if c.ok)
    assert len(texts) == 200 and set(texts.values()) == {1}
    assert all(sender.sent for sender in senders)  # both relays took part


# --- the sender's mapping ----------------------------------------------------------------------


def test_telegram_answers_map_to_outcomes_without_chat_ids_or_the_token(vault, display):
    from aiogram import Bot
    from aiogram.exceptions import (
        ClientDecodeError,
        TelegramBadRequest,
        TelegramEntityTooLarge,
        TelegramForbiddenError,
        TelegramMigrateToChat,
        TelegramNetworkError,
        TelegramNotFound,
        TelegramRetryAfter,
        TelegramServerError,
        TelegramUnauthorizedError,
    )
    from aiogram.methods import SendMessage

    bot = Bot("123456:SECRET-token")
    sender = TelegramSender(bot=bot, vault=vault, sessions=None, display_store=display)
    method = SendMessage(chat_id=987654321, text="x")
    cases = [
        (TelegramRetryAfter(method, "Too Many Requests: retry after 7", 7), "flood", ""),
        (TelegramForbiddenError(method, "Forbidden: user is deactivated"), "permanent", "403"),
        (TelegramBadRequest(method, "Bad Request: chat not found"), "permanent", "400"),
        (TelegramEntityTooLarge(method, "Request Entity Too Large"), "permanent", "413"),
        (TelegramMigrateToChat(method, "migrated", -1009), "permanent", "400"),
        (TelegramServerError(method, "Bad Gateway"), "transient", "5xx"),
        (TelegramNetworkError(method, "Request timeout error"), "transient", "network"),
        (TelegramUnauthorizedError(method, "Unauthorized 123456:SECRET-token"), "transient", "401"),
        (TelegramNotFound(method, "Not Found"), "transient", "404"),
        (ClientDecodeError("Failed to decode object", ValueError("x"), "<html>"), "transient", ""),
    ]
    for exc, kind, prefix in cases:
        outcome = sender.outcome_of(exc)
        assert outcome.kind == kind, exc
        assert outcome.reason.startswith(prefix)
        assert "987654321" not in outcome.reason and "SECRET" not in outcome.reason
    assert sender.outcome_of(cases[0][0]).retry_after == 7


async def test_an_alert_held_for_quiet_hours_does_not_hold_back_the_persons_other_messages(
    sessions, fake, sender
):
    await put(sessions, "chat:7", "alert for the morning")
    async with sessions() as session:
        await session.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() + timedelta(hours=9))
        )
        await session.commit()
    await put(sessions, "chat:7", "your tip was passed on")
    task = asyncio.create_task(relay_for(sessions, sender).run_forever())
    try:
        await fake.wait_for_calls("sendMessage", chat_id=7, within=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    held, sent = await rows(sessions)
    assert [c.params["text"] for c in fake.calls("sendMessage")] == ["your tip was passed on"]
    assert (held.status, sent.status) == ("pending", "sent")


async def test_one_photo_to_many_chats_is_uploaded_once_and_a_stale_file_id_is_replaced(
    sessions, fake, display, sender
):
    photo = display.put(photo_corpus.plain_jpeg())
    async with sessions() as session:
        for chat in (11, 12, 13):
            payload = telegram_photo(photo, f"alert to {chat}")
            await enqueue(
                session,
                channel="telegram",
                recipient=f"chat:{chat}",
                payload=payload,
                key=f"a{chat}",
            )
        await session.commit()
    done = await settle(sessions, relay_for(sessions, sender))
    assert [r.status for r in done] == ["sent"] * 3
    assert [len(fake.uploads(chat)) for chat in (11, 12, 13)] == [1, 0, 0]
    file_id = fake.calls("sendPhoto", chat_id=11)[0].result["photo"][-1]["file_id"]
    assert [fake.calls("sendPhoto", chat_id=c)[0].params["photo"] for c in (12, 13)] == [
        file_id
    ] * 2
    sender._file_ids[photo] = "a-file-id-telegram-forgot"
    await put(sessions, "chat:14", "unused")  # a text row, then the photo again
    async with sessions() as session:
        payload = telegram_photo(photo, "alert to 14")
        await enqueue(session, channel="telegram", recipient="chat:14", payload=payload, key="a14")
        await session.commit()
    done = await settle(sessions, relay_for(sessions, sender))
    assert done[-1].status == "sent"
    assert [u.data for u in fake.uploads(14)] == [display.get(photo)]  # uploaded again, once
