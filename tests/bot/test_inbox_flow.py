"""run_forever: chats flow independently; one chat's slow update holds up only that chat."""

from __future__ import annotations

import asyncio
import contextlib

from aiogram import Router
from aiogram.types import Message
from sqlalchemy import select, text

from core.delivery.inbox import admit
from storage.models import InboxUpdate
from tests.bot.harness import build_transcript
from tests.keys import CHAT_KEY

SLOW, QUICK = 4101, 4102


def _router(release: asyncio.Event, seen: list[str]) -> Router:
    router = Router()

    @router.message()
    async def handle(message: Message) -> None:
        if message.text == "slow":
            await release.wait()  # a Telegram call that hangs, say
        seen.append(f"{message.chat.id}:{message.text}")
        await message.answer(f"echo {message.text}")

    return router


async def _statuses(sessions) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        result = await session.execute(
            select(InboxUpdate.chat_id, InboxUpdate.payload, InboxUpdate.status).order_by(
                InboxUpdate.id
            )
        )
        # A processed update keeps neither its chat nor its content.
        return [
            (chat, payload.get("message", {}).get("text"), status)
            for chat, payload, status in result
        ]


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while not await check():  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.02)


async def test_a_hanging_update_holds_up_its_own_chat_only(fake, sessions, services):
    release, seen = asyncio.Event(), []
    chat = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=[_router(release, seen)]
    )
    async with sessions() as session:
        await admit(
            session,
            chat_key=CHAT_KEY,
            updates=[
                fake.text_message(SLOW, "slow"),
                fake.text_message(SLOW, "after slow"),
                fake.text_message(QUICK, "one"),
            ],
        )
    runner = asyncio.create_task(chat.processor.run_forever())
    try:
        # The quick chat keeps going while the slow chat's first update hangs...
        await _until(lambda: asyncio.sleep(0, f"{QUICK}:one" in seen))
        async with sessions() as session:
            await admit(session, chat_key=CHAT_KEY, updates=[fake.text_message(QUICK, "two")])
        chat.processor.wakeup.set()
        await _until(lambda: asyncio.sleep(0, f"{QUICK}:two" in seen))
        # ...and the slow chat's next update waits behind it, in order.
        assert f"{SLOW}:after slow" not in seen
        assert (CHAT_KEY(SLOW), "after slow", "pending") in await _statuses(sessions)
        release.set()

        async def all_done() -> bool:
            return all(status == "done" for *_, status in await _statuses(sessions))

        await _until(all_done)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await chat.bot.session.close()
    assert [s for s in seen if s.startswith(str(SLOW))] == [f"{SLOW}:slow", f"{SLOW}:after slow"]
    assert chat.last_text(QUICK) == "echo two"


async def test_an_outcome_that_cannot_be_recorded_is_logged_and_processing_goes_on(
    fake, sessions, services, caplog
):
    router = Router()

    @router.message()
    async def break_the_inbox(message: Message) -> None:
        async with sessions() as session:  # the database loses the inbox, say
            await session.execute(text("ALTER TABLE inbox_updates RENAME TO inbox_gone"))
            await session.commit()
        raise RuntimeError("handler bug")

    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=[router])
    async with sessions() as session:
        await admit(session, chat_key=CHAT_KEY, updates=[fake.text_message(SLOW, "hello")])
    runner = asyncio.create_task(chat.processor.run_forever())
    try:

        async def logged() -> bool:
            await asyncio.sleep(0)
            return "outcome not recorded" in caplog.text

        await _until(logged)
        assert not runner.done()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        async with sessions() as session:
            await session.execute(text("ALTER TABLE inbox_gone RENAME TO inbox_updates"))
            await session.commit()
        await chat.bot.session.close()
