"""Admission hands committed updates to the processor in memory, without losing per-chat order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiogram import Router
from aiogram.types import Message
from sqlalchemy import select

from bot.processor import MAX_QUEUED_PER_CHAT
from core.delivery.inbox import AdmissionBatcher, admit
from storage.models import InboxUpdate
from tests.bot.harness import Transcript, build_transcript
from tests.keys import CHAT_KEY

CHAT = 4201
NO_READS = 60.0  # the processor's idle read comes only after a minute: longer than any test


def _router(seen: list[str], failures: dict[str, int]) -> Router:
    router = Router()

    @router.message()
    async def handle(message: Message) -> None:
        text = message.text or ""
        if failures.get(text, 0) > 0:
            failures[text] -= 1
            raise RuntimeError(f"{text} failed")
        seen.append(text)
        await message.answer(f"echo {text}")

    return router


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polls state other tasks change
            await asyncio.sleep(0.02)


async def _all_done(sessions, count: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until `count` updates are marked done (the reply goes out before the mark)."""
    async with asyncio.timeout(10):
        while await _statuses(sessions) != ["done"] * count:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _running(chat: Transcript) -> AsyncIterator[AdmissionBatcher]:
    """The processor running (its first inbox read done), and admission handing over to it."""
    runner = asyncio.create_task(chat.processor.run_forever())
    batcher = AdmissionBatcher(chat.sessions, chat_key=CHAT_KEY, handoff=chat.processor.take)
    try:
        await _until(lambda: chat.processor._leading)
        await asyncio.sleep(0.2)  # past the read at start: from now on only wakeups read
        yield batcher
    finally:
        await batcher.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await chat.bot.session.close()


def _transcript(fake, sessions, services, seen, failures=None, idle=NO_READS) -> Transcript:  # type: ignore[no-untyped-def]
    chat = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=[_router(seen, failures or {})]
    )
    chat.processor.idle_interval = idle
    return chat


async def _statuses(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        result = await session.scalars(select(InboxUpdate.status).order_by(InboxUpdate.id))
        return list(result)


async def test_handed_over_updates_are_processed_in_order_without_an_inbox_read(
    fake, sessions, services
):
    seen: list[str] = []
    chat = _transcript(fake, sessions, services, seen)
    async with _running(chat) as admission:
        await asyncio.gather(
            *(admission.admit(fake.text_message(CHAT, text)) for text in ("one", "two", "three"))
        )
        # Nothing wakes the inbox read: only the handover can have started these.
        await _until(lambda: len(seen) == 3)
        await _all_done(sessions, 3)
    assert seen == ["one", "two", "three"]
    assert chat.last_text(CHAT) == "echo three"


async def test_an_older_update_the_processor_does_not_hold_goes_first(fake, sessions, services):
    seen: list[str] = []
    chat = _transcript(fake, sessions, services, seen)
    async with _running(chat) as admission:
        # Admitted elsewhere (another process, say): pending, and the processor was not told.
        async with sessions() as session:
            await admit(session, chat_key=CHAT_KEY, updates=[fake.text_message(CHAT, "older")])
        await admission.admit(fake.text_message(CHAT, "newer"))
        await _all_done(sessions, 2)
    assert seen == ["older", "newer"]


async def test_a_failing_handed_over_update_keeps_its_place_before_the_next(
    fake, sessions, services
):
    seen: list[str] = []
    # Reads every 0.2 s, so the retry (due 2 s after the failure) is found.
    chat = _transcript(fake, sessions, services, seen, failures={"boom": 1}, idle=0.2)
    async with _running(chat) as admission:
        await asyncio.gather(
            admission.admit(fake.text_message(CHAT, "boom")),
            admission.admit(fake.text_message(CHAT, "after")),
        )
        await _all_done(sessions, 2)
    assert seen == ["boom", "after"]


async def test_a_duplicate_delivery_is_not_handed_over_twice(fake, sessions, services):
    seen: list[str] = []
    chat = _transcript(fake, sessions, services, seen)
    update = fake.text_message(CHAT, "once")
    async with _running(chat) as admission:
        await admission.admit(update)
        await admission.admit(update)  # Telegram retried: the same update_id
        await _all_done(sessions, 1)
        await asyncio.sleep(0.3)
    assert seen == ["once"]


async def test_a_flood_beyond_what_is_held_in_memory_waits_in_the_inbox_in_order(
    fake, sessions, services
):
    seen: list[str] = []
    chat = _transcript(fake, sessions, services, seen)
    texts = [f"m{n}" for n in range(MAX_QUEUED_PER_CHAT + 5)]
    async with _running(chat) as admission:
        # One batch, more than a chat may queue in memory: the inbox read takes them.
        await asyncio.gather(*(admission.admit(fake.text_message(CHAT, text)) for text in texts))
        await _all_done(sessions, len(texts))
    assert seen == texts
