"""A processing round commits its updates' done marks and conversation states together."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlalchemy import select

from core.delivery.inbox import admit
from storage.models import InboxUpdate
from tests.bot.fixtures import fsm_state
from tests.bot.harness import build_transcript
from tests.keys import CHAT_KEY

CHATS = (4001, 4002, 4003)


def _router() -> Router:
    router = Router()

    @router.message(Command("poison"))
    async def poison(message: Message, state: FSMContext) -> None:
        # JSON cannot store a set: writing this state fails at commit time.
        await state.update_data(bad={1, 2})
        await message.answer("poisoned")

    @router.message()
    async def remember(message: Message, state: FSMContext) -> None:
        await state.set_state("Echo:seen")
        await state.update_data(last=message.text)
        await message.answer(f"echo {message.text}")

    return router


async def _rows(sessions) -> list[tuple[int | None, str, int, dict]]:
    async with sessions() as session:
        result = await session.execute(
            select(
                InboxUpdate.chat_id, InboxUpdate.status, InboxUpdate.attempts, InboxUpdate.payload
            ).order_by(InboxUpdate.id)
        )
        return [tuple(row) for row in result.all()]


async def test_one_round_marks_every_chat_done_and_keeps_each_chats_state(fake, sessions, services):
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[_router()])
    async with sessions() as session:
        await admit(
            session, chat_key=CHAT_KEY, updates=[fake.text_message(c, f"hello {c}") for c in CHATS]
        )

    assert await chat.processor.run_once() == len(CHATS)

    # Done: no chat, no content left (the payload held names and words).
    assert await _rows(sessions) == [(None, "done", 1, {}) for _ in CHATS]
    for c in CHATS:
        assert await fsm_state(chat, c) == "Echo:seen"
        assert chat.last_text(c) == f"echo hello {c}"
    await chat.bot.session.close()


async def test_an_update_whose_state_cannot_be_written_fails_alone(fake, sessions, services):
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[_router()])
    good, bad = CHATS[0], CHATS[1]
    async with sessions() as session:
        await admit(
            session,
            chat_key=CHAT_KEY,
            updates=[fake.text_message(good, "fine"), fake.command(bad, "poison")],
        )

    await chat.processor.run_once()

    rows = await _rows(sessions)
    assert rows[0] == (None, "done", 1, {})
    assert rows[1][:3] == (CHAT_KEY(bad), "pending", 1)
    assert rows[1][3]["message"]["text"] == "/poison"  # kept until it is processed
    assert await fsm_state(chat, good) == "Echo:seen"
    await chat.bot.session.close()


async def test_updates_without_a_chat_are_read_together_not_one_a_round(fake, sessions, services):
    """Nothing orders updates without a chat (unknown kinds, a poll, a malformed one): a round
    reads them all, as many as it has room for; a backlog of them once drained one a round."""
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[_router()])
    chatless = [{"update_id": 9100 + n, "future_kind": {"n": n}} for n in range(3)]
    async with sessions() as session:
        await admit(session, chat_key=CHAT_KEY, updates=chatless)

    assert await chat.processor.run_once() == 3

    assert [row[1] for row in await _rows(sessions)] == ["done"] * 3
    assert await chat.processor.run_once() == 0
    await chat.bot.session.close()
