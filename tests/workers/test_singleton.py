"""Singletons: of two copies of a worker, one runs; the other takes over when it stops."""

from __future__ import annotations

import asyncio

from workers.singleton import run_singleton


async def _until(check, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polls a list other tasks append to
            await asyncio.sleep(0.05)


async def test_one_copy_runs_and_another_takes_over(engine):
    running: list[str] = []

    async def work(tag: str) -> None:
        running.append(tag)
        await asyncio.sleep(3600)

    def copy(tag: str) -> asyncio.Task[None]:
        return asyncio.create_task(
            run_singleton(engine, "evidence", lambda: work(tag), check=0.1, retry=0.1)
        )

    if engine.dialect.name != "postgresql":
        first = copy("a")
        await _until(lambda: running == ["a"])  # SQLite is one process: the work just runs
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        return
    first, second = copy("a"), copy("b")
    await _until(lambda: len(running) == 1)
    await asyncio.sleep(0.5)  # the other copy had several chances to take the lock
    assert len(running) == 1
    holder = first if running == ["a"] else second
    other = second if holder is first else first
    holder.cancel()  # its connection goes back without the lock
    await asyncio.gather(holder, return_exceptions=True)
    await _until(lambda: len(running) == 2)
    assert sorted(running) == ["a", "b"]
    other.cancel()
    await asyncio.gather(other, return_exceptions=True)


def test_every_singleton_has_its_own_lock():
    from workers.singleton import LOCK_KEYS

    assert len(set(LOCK_KEYS.values())) == len(LOCK_KEYS)
    assert 7243001 not in LOCK_KEYS.values()  # the inbox processor's
