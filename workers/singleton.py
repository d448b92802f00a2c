"""Workers that must run once per database: a PostgreSQL session advisory lock elects one.

The evidence worker keeps a photo-hash index in memory, the face worker an index of case faces,
and the alert, card and retention workers sweep the whole database on a timer: two copies would
do the work twice. Every worker process runs them all; the one holding a worker's lock works,
the others wait and take over when its connection (and with it the lock) goes away. SQLite is
one process, so there the work simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("tipline.singleton")

# One key per singleton; 7243001 is the inbox processor's (bot/processor.py).
LOCK_KEYS = {
    "evidence": 7243002,
    "faces": 7243003,
    "alerts": 7243004,
    "moderator-cards": 7243005,
    "retention": 7243006,
    "rescoring": 7243007,
}
_TRY = text("SELECT pg_try_advisory_lock(:key)")
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :key AND objsubid = 1)"
)


def run_singleton(
    engine: AsyncEngine,
    name: str,
    work: Callable[[], Awaitable[None]],
    *,
    check: float = 1.0,
    retry: float = 5.0,
) -> Coroutine[Any, Any, None]:
    """Run `work()` while this process holds the named lock; wait for it otherwise.

    The name's key is looked up now, not when the loop starts: a singleton without a key
    stops the process at start-up on every database, instead of dying in the background on
    PostgreSQL only."""
    key = LOCK_KEYS[name]
    if engine.dialect.name != "postgresql":
        return _run(work)
    term = functools.partial(_one_term, engine, name, key, work, check=check, retry=retry)
    return _elected(term, name, retry)


async def _run(work: Callable[[], Awaitable[None]]) -> None:
    await work()


async def _elected(term: Callable[[], Awaitable[None]], name: str, retry: float) -> None:
    while True:
        try:
            await term()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database went away: try again later
            log.warning("%s: lock connection failed; retrying in %gs", name, retry)
            await asyncio.sleep(retry)


async def _one_term(
    engine: AsyncEngine,
    name: str,
    key: int,
    work: Callable[[], Awaitable[None]],
    *,
    check: float,
    retry: float,
) -> None:
    async with engine.connect() as connection:
        while not await connection.scalar(_TRY, {"key": key}):
            await connection.commit()
            await asyncio.sleep(retry)
        await connection.commit()
        log.info("%s: this process runs it (advisory lock %d)", name, key)
        task = asyncio.create_task(work(), name=f"singleton-{name}")
        try:
            await _watch(connection, key, task, check)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            with contextlib.suppress(Exception):  # a dropped connection released it already
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


async def _watch(connection: Any, key: int, task: asyncio.Task[None], check: float) -> None:
    """Return when the work ends or the lock is lost (its connection dropped, say)."""
    while not task.done():
        await asyncio.wait([task], timeout=check)
        if task.done():
            break
        try:
            held = await connection.scalar(_HELD, {"key": key})
            await connection.commit()
        except Exception:  # noqa: BLE001 - the connection is gone, and the lock with it
            held = False
        if not held:
            log.warning("advisory lock %d lost; stopping until it is taken again", key)
            return
    task.result()
