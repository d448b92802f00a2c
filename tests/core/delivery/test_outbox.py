"""The outbox: rows join the caller's transaction, keys are unique, payloads are plain JSON."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from core.delivery import outbox
from core.delivery.outbox import (
    chat_recipient,
    enqueue,
    is_group,
    list_dead,
    parse_recipient,
    requeue_dead,
    telegram_photo,
    telegram_text,
    tipster_recipient,
)
from storage.models import OutboxMessage

SHA = "ab" * 32


async def _rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_enqueued_row_joins_the_callers_transaction_and_is_never_committed_by_it(sessions):
    async with sessions() as session:
        added = await enqueue(
            session,
            channel="telegram",
            recipient="tipster:7",
            payload=telegram_text("hi"),
            key="k1",
        )
        assert added
        assert await _rows(sessions) == []  # another session sees nothing before the commit
        await session.commit()
    [row] = await _rows(sessions)
    assert (row.status, row.attempts, row.recipient, row.channel) == (
        "pending",
        0,
        "tipster:7",
        "telegram",
    )
    assert row.payload == {"method": "sendMessage", "text": "hi", "protect_content": False}
    assert row.next_attempt_at.tzinfo is not None


async def test_rolled_back_enqueue_leaves_nothing(sessions):
    async with sessions() as session:
        await enqueue(
            session, channel="telegram", recipient="chat:5", payload=telegram_text("x"), key="k"
        )
        await session.rollback()
    assert await _rows(sessions) == []


async def test_the_same_key_twice_is_one_row_even_across_transactions(sessions):
    async with sessions() as session:
        first = await enqueue(
            session, channel="telegram", recipient="chat:5", payload=telegram_text("a"), key="same"
        )
        again = await enqueue(
            session, channel="telegram", recipient="chat:5", payload=telegram_text("b"), key="same"
        )
        await session.commit()
    async with sessions() as session:
        later = await enqueue(
            session, channel="telegram", recipient="chat:6", payload=telegram_text("c"), key="same"
        )
        await session.commit()
    assert (first, again, later) == (True, False, False)
    [row] = await _rows(sessions)
    assert row.payload["text"] == "a" and row.recipient == "chat:5"


async def test_enqueue_refuses_unknown_recipients_and_bad_keys(sessions):
    async with sessions() as session:
        for recipient in ("4242", "tipster:", "tipster:-1", "chat:abc", "user:1"):
            with pytest.raises(ValueError):
                await enqueue(session, channel="telegram", recipient=recipient, payload={}, key="k")
        with pytest.raises(ValueError):
            await enqueue(session, channel="telegram", recipient="chat:1", payload={}, key="")
        with pytest.raises(ValueError):
            await enqueue(
                session, channel="telegram", recipient="chat:1", payload={}, key="k" * 101
            )


def test_recipients_are_opaque_strings_that_never_hold_a_tipsters_chat():
    assert tipster_recipient(12) == "tipster:12"
    assert chat_recipient(-1001234) == "chat:-1001234"
    assert parse_recipient("tipster:12") == ("tipster", 12)
    assert parse_recipient("chat:-1001234") == ("chat", -1001234)
    assert is_group("chat:-1001234") and is_group("chat:-5")
    assert not is_group("chat:5") and not is_group("tipster:5")


def test_text_payload_carries_buttons_as_label_and_callback_pairs():
    payload = telegram_text(
        "Is this her?", buttons=[[("Yes", "tip:1:yes"), ("No", "tip:1:no")]], protect=True
    )
    assert payload == {
        "method": "sendMessage",
        "text": "Is this her?",
        "protect_content": True,
        "buttons": [[["Yes", "tip:1:yes"], ["No", "tip:1:no"]]],
    }


def test_photo_payload_names_our_display_copy_by_hash():
    assert telegram_photo(SHA, "Seen at the station", protect=True) == {
        "method": "sendPhoto",
        "display_sha256": SHA,
        "caption": "Seen at the station",
        "protect_content": True,
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: telegram_text(""),
        lambda: telegram_text("x" * 4097),
        lambda: telegram_text("x", buttons=[[("Yes", "")]]),
        lambda: telegram_text("x", buttons=[[("Yes", "d" * 65)]]),
        lambda: telegram_text("x", buttons=[[("", "data")]]),
        lambda: telegram_photo("AgACAgIAAxkBAAI-telegram-file-id", "caption"),
        lambda: telegram_photo(SHA, "c" * 1025),
    ],
)
def test_payloads_telegram_would_refuse_are_refused_at_enqueue_time(build):
    with pytest.raises(ValueError):
        build()


async def test_a_commit_that_enqueued_rings_the_bell_and_a_rollback_does_not(sessions):
    bell = asyncio.Event()
    outbox.subscribe(bell)
    async with sessions() as session:
        await enqueue(
            session, channel="telegram", recipient="chat:1", payload=telegram_text("a"), key="a"
        )
        await session.rollback()
        assert not bell.is_set()
        await session.execute(select(1))
        await session.commit()
        assert not bell.is_set()
        await enqueue(
            session, channel="telegram", recipient="chat:1", payload=telegram_text("b"), key="b"
        )
        assert not bell.is_set()
        await session.commit()
    assert bell.is_set()


async def test_dead_rows_are_listed_and_requeued_with_fresh_attempts(sessions):
    async with sessions() as session:
        for key in ("a", "b", "c"):
            await enqueue(
                session, channel="telegram", recipient="chat:1", payload=telegram_text(key), key=key
            )
        await session.commit()
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.in_(["a", "b"]))
            .values(
                status="dead", attempts=8, last_error="403 Forbidden: bot was blocked by the user"
            )
        )
        await session.commit()
    async with sessions() as session:
        dead = await list_dead(session)
        assert [row.idempotency_key for row in dead] == ["a", "b"]
        assert dead[0].last_error == "403 Forbidden: bot was blocked by the user"
        pending_id = (await _rows(sessions))[2].id
        assert await requeue_dead(session, [dead[0].id, pending_id]) == 1
    rows = await _rows(sessions)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 0), ("dead", 8), ("pending", 0)]
    async with sessions() as session:
        assert await requeue_dead(session, []) == 0
