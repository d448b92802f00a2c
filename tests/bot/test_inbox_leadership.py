"""PostgreSQL: one processor per database; one that loses its lock stops before it leads again."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiogram import Router
from aiogram.types import Message
from sqlalchemy import text

from bot.processor import LOCK_KEY
from core.delivery.inbox import admit
from tests.bot.harness import build_transcript
from tests.keys import CHAT_KEY

CHAT = 4301
# pg_locks is the whole server's: only this test database's holder counts (other suites may run).
HOLDER = text(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
).bindparams(key=LOCK_KEY)


def _router(seen: list[str]) -> Router:
    router = Router()

    @router.message()
    async def handle(message: Message) -> None:
        seen.append(message.text or "")
        await message.answer(f"echo {message.text}")

    return router


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(15):
        while not await check():  # noqa: ASYNC110 - polls the database and the processor
            await asyncio.sleep(0.05)


async def test_a_processor_whose_lock_connection_drops_stops_and_takes_the_lock_again(
    fake, sessions, services, engine, caplog
):
    if engine.dialect.name != "postgresql":
        pytest.skip("the leader lock is PostgreSQL's (SQLite runs one process)")
    seen: list[str] = []
    routers = [_router(seen)]
    chat = build_transcript(fake=fake, sessions=sessions, services=services, routers=routers)
    processor = chat.processor
    processor.lock_check = 0.1
    [state_cache] = [c for c in processor.caches if hasattr(c, "knows")]
    runner = asyncio.create_task(processor.run_forever())

    async def holder() -> int | None:
        async with sessions() as session:
            return await session.scalar(HOLDER)

    try:
        await _until(lambda: asyncio.sleep(0, processor._leading))
        first = await holder()
        state_cache.put("stale-chat", "Report:what", {})  # what this term cached
        async with sessions() as session:  # the lock's connection drops (a network blip, say)
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})

        async def lost_then_retaken() -> bool:
            pid = await holder()
            return "lost the inbox lock" in caplog.text and pid is not None and pid != first

        await _until(lost_then_retaken)
        assert not state_cache.knows("stale-chat")  # another processor may have led meanwhile
        async with sessions() as session:
            await admit(session, chat_key=CHAT_KEY, updates=[fake.text_message(CHAT, "after")])
        processor.wakeup.set()
        await _until(lambda: asyncio.sleep(0, seen == ["after"]))
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await chat.bot.session.close()
    assert await holder() is None  # released when it stopped
