"""The inbox: failing updates are retried, then parked as dead, and later updates still flow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import select, update

from core.delivery.inbox import admit
from core.delivery.inbox_admin import inbox_counts, list_dead, retry_dead
from storage.models import InboxUpdate
from storage.types import utcnow
from tests.bot.harness import build_transcript
from tests.keys import CHAT_KEY

CHAT = 3003


def _router(calls: list[str]) -> Router:
    router = Router()

    @router.message(Command("boom"))
    async def boom(message: Message) -> None:
        calls.append("boom")
        raise RuntimeError("handler bug")

    @router.message()
    async def echo(message: Message) -> None:
        calls.append(message.text or "")
        await message.answer(f"echo {message.text}")

    return router


async def _make_due(sessions) -> None:
    async with sessions() as session:
        await session.execute(
            update(InboxUpdate).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_failing_update_is_retried_then_parked_and_the_chat_moves_on(
    fake, sessions, services
):
    calls: list[str] = []
    chat = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=[_router(calls)]
    )
    chat.processor.max_attempts = 3
    async with sessions() as session:
        await admit(
            session,
            chat_key=CHAT_KEY,
            updates=[fake.text_message(CHAT, "/boom"), fake.text_message(CHAT, "after")],
        )
    for _ in range(3):
        await chat.processor.run_once()
        # The later update of the same chat waits behind the failing one.
        assert "after" not in calls
        await _make_due(sessions)
    assert calls == ["boom", "boom", "boom"]
    while await chat.processor.run_once():
        pass
    assert calls[-1] == "after"
    assert chat.last_text(CHAT) == "echo after"
    async with sessions() as session:
        dead = await list_dead(session)
        assert [(d.kind, d.attempts) for d in dead] == [("message", 3)]
        assert "RuntimeError: handler bug" in dead[0].last_error
        assert await inbox_counts(session) == {"dead": 1, "done": 1}
        assert await retry_dead(session) == 1
        status = await session.scalar(
            select(InboxUpdate.status).where(InboxUpdate.update_id == dead[0].update_id)
        )
        assert status == "pending"
    await chat.bot.session.close()


async def test_other_chats_are_not_held_up_by_a_failing_chat(fake, sessions, services):
    calls: list[str] = []
    chat = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=[_router(calls)]
    )
    async with sessions() as session:
        await admit(
            session,
            chat_key=CHAT_KEY,
            updates=[fake.text_message(CHAT, "/boom"), fake.text_message(CHAT + 1, "hello")],
        )
    await chat.processor.run_once()
    assert chat.last_text(CHAT + 1) == "echo hello"
    await chat.bot.session.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"message": {"text": "no chat, no date"}}, "ValidationError"),
        # aiogram dumps an update of an unknown kind to say it skips it: a lone surrogate fails.
        ({"future_kind": {"text": "\udfff"}}, "PydanticSerializationError"),
    ],
)
async def test_update_that_can_never_be_handled_is_parked_at_once(
    fake, sessions, services, body, reason
):
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[])
    async with sessions() as session:
        await admit(session, chat_key=CHAT_KEY, updates=[{"update_id": 99, **body}])
    await chat.processor.run_once()
    async with sessions() as session:
        dead = await list_dead(session)
    assert [d.update_id for d in dead] == [99]
    assert dead[0].attempts == 1 and reason in dead[0].last_error
    await chat.bot.session.close()


async def test_unknown_update_types_are_done_not_dead(fake, sessions, services):
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[])
    async with sessions() as session:
        await admit(session, chat_key=CHAT_KEY, updates=[fake.update_of_unknown_type()])
    await chat.processor.run_once()
    async with sessions() as session:
        assert await inbox_counts(session) == {"done": 1}
    await chat.bot.session.close()


async def test_telegram_saying_too_many_requests_defers_the_update_without_an_attempt(
    fake, sessions, services
):
    """A 429 from Telegram (its flood limit) is not the update's fault: the update is taken up
    again after retry_after, as often as it takes, never parked for it, and answered then."""
    calls: list[str] = []
    chat = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=[_router(calls)]
    )
    chat.processor.max_attempts = 2
    fake.fail_next("sendMessage", status=429, retry_after=3, count=4)
    async with sessions() as session:
        await admit(session, chat_key=CHAT_KEY, updates=[fake.text_message(CHAT, "hello")])
    for _ in range(4):
        await chat.processor.run_once()
        async with sessions() as session:
            row = (await session.scalars(select(InboxUpdate))).one()
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.next_attempt_at > utcnow() + timedelta(seconds=2)  # Telegram's wait
        await _make_due(sessions)
    await chat.processor.run_once()
    assert calls == ["hello"] * 5
    assert chat.last_text(CHAT) == "echo hello"
    async with sessions() as session:
        assert await inbox_counts(session) == {"done": 1}
    await chat.bot.session.close()
