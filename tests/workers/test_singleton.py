"""Singletons: of two copies of a worker, one runs; the other takes over when it stops."""

from __future__ import annotations

import asyncio

import pytest

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


def test_every_singleton_of_the_worker_role_has_a_lock(engine, tmp_path):
    """The worker role's singletons are built at start-up; one without a lock key is refused
    then (it once crashed in the background on PostgreSQL, and rescoring never ran)."""
    from core.alerts.dispatch import AlertPolicy
    from core.geo import build_geocoder
    from core.identity.vault import Vault
    from handlers.context import BotServices
    from settings import Settings
    from storage.db import create_sessionmaker
    from storage.photostore import open_photo_stores
    from tipline.loops import worker_loops

    settings = Settings(
        database_url="sqlite+aiosqlite:///unused.db", media_dir=tmp_path, moderators_chat_id=1
    )
    loops = worker_loops(
        settings,
        create_sessionmaker(engine),
        vault=Vault(Vault.new_key()),
        vault_key=Vault.new_key(),
        bot=None,
        stores=open_photo_stores(tmp_path),
        alerts=AlertPolicy(radii_km=(1.0,), step_minutes=10, per_day=3),
        chats=BotServices(vault=Vault(Vault.new_key()), geocoder=build_geocoder(user_agent="t")),
    )
    for loop in loops:
        loop.close()  # built, never started
    assert len(loops) >= 7


def test_a_singleton_without_a_lock_is_refused_when_built(engine):
    async def work() -> None:
        return None

    with pytest.raises(KeyError):
        run_singleton(engine, "no-such-worker", work)
