"""The conversation-state cache: what it returns is always what the database has committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.fsm import (
    KeyedStateKeys,
    SqlStorage,
    StateCache,
    current_session,
    take_changes,
    write_states,
)
from bot.update_session import update_sessions
from storage.db import create_sessionmaker
from tests.keys import TEST_VAULT

KEY = StorageKey(bot_id=1, chat_id=2, user_id=2)
KEYS = KeyedStateKeys(TEST_VAULT)
OTHER = StorageKey(bot_id=1, chat_id=3, user_id=3)


@pytest.fixture
def plain_sessions(sessions, engine):  # type: ignore[no-untyped-def]
    """The application's sessions, as web requests and workers use them."""
    return create_sessionmaker(engine)


@pytest.fixture
def sessions(sessions):  # type: ignore[no-untyped-def]
    """The inbox processor's sessions: their commit writes the changed states."""
    return update_sessions(sessions)


@contextmanager
def state_reads(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that read fsm_states while the block runs."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "fsm_states" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def _in_session(sessions, storage: SqlStorage, *, state: str, data: dict, commit: bool):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        token = current_session.set(session)
        try:
            await storage.set_state(KEY, state)
            await storage.set_data(KEY, data)
            if commit:
                await session.commit()
            else:
                await session.rollback()
        finally:
            current_session.reset(token)


async def test_a_committed_state_is_read_back_without_a_query(sessions, engine):
    storage = SqlStorage(sessions, keys=KEYS)
    await _in_session(sessions, storage, state="Report:what", data={"n": 1}, commit=True)
    with state_reads(engine) as reads:
        assert await storage.get_state(KEY) == "Report:what"
        assert await storage.get_data(KEY) == {"n": 1}
    assert reads == []
    # And the database holds the same: a storage with a cold cache reads it there.
    with state_reads(engine) as reads:
        assert await SqlStorage(sessions, keys=KEYS).get_state(KEY) == "Report:what"
    assert len(reads) == 1


async def test_a_state_rolled_back_is_not_remembered(sessions):
    storage = SqlStorage(sessions, keys=KEYS)
    await _in_session(sessions, storage, state="Report:what", data={"n": 1}, commit=True)
    await _in_session(sessions, storage, state="Report:when", data={"n": 2}, commit=False)
    assert await storage.get_state(KEY) == "Report:what"
    assert await storage.get_data(KEY) == {"n": 1}


async def test_a_commit_that_fails_leaves_the_cache_on_the_committed_state(sessions):
    storage = SqlStorage(sessions, keys=KEYS)
    await _in_session(sessions, storage, state="Report:what", data={"n": 1}, commit=True)
    async with sessions() as session:
        token = current_session.set(session)
        try:
            await storage.set_state(KEY, "Report:where")
            # Data JSON cannot hold: the states' upsert, run by the commit, fails.
            await storage.set_data(KEY, {"n": object()})
            with pytest.raises(StatementError):
                await session.commit()
            await session.rollback()
        finally:
            current_session.reset(token)
    assert await storage.get_state(KEY) == "Report:what"
    assert await SqlStorage(sessions, keys=KEYS).get_state(KEY) == "Report:what"


async def test_changing_what_was_read_does_not_change_the_cache(sessions):
    storage = SqlStorage(sessions, keys=KEYS)
    await _in_session(
        sessions, storage, state="Report:what", data={"draft": {"files": [1]}}, commit=True
    )
    data = await storage.get_data(KEY)
    data["draft"]["files"].append(2)
    assert await storage.get_data(KEY) == {"draft": {"files": [1]}}


async def test_states_written_for_a_round_reach_the_cache_only_after_their_commit(sessions):
    storage = SqlStorage(sessions, keys=KEYS)
    async with sessions() as session:
        token = current_session.set(session)
        await storage.set_state(KEY, "Report:when")
        await storage.set_state(OTHER, "Report:where")
        current_session.reset(token)
        changes = take_changes(session)
        await session.rollback()
    async with sessions() as session:
        await write_states(session, changes)
        await session.rollback()
    assert await storage.get_state(KEY) is None
    async with sessions() as session:
        await write_states(session, changes)
        await session.commit()
    assert await storage.get_state(KEY) == "Report:when"
    assert await storage.get_state(OTHER) == "Report:where"
    assert await SqlStorage(sessions, keys=KEYS).get_state(OTHER) == "Report:where"


async def test_the_cache_keeps_only_the_most_recent_chats_and_reads_the_rest(sessions, engine):
    storage = SqlStorage(sessions, keys=KEYS, cache=StateCache(size=1))
    for key, state in ((KEY, "Report:what"), (OTHER, "Report:when")):
        async with sessions() as session:
            token = current_session.set(session)
            await storage.set_state(key, state)
            await session.commit()
            current_session.reset(token)
    with state_reads(engine) as reads:
        assert await storage.get_state(OTHER) == "Report:when"
        assert await storage.get_state(KEY) == "Report:what"
    assert len(reads) == 1


@pytest.mark.parametrize("size", [1, 3])
def test_a_full_cache_forgets_the_least_recently_used_chat(size):
    cache = StateCache(size=size)
    for n in range(size + 1):
        cache.put(f"k{n}", "S", {"n": n})
    assert not cache.knows("k0")
    assert cache.get(f"k{size}").data == {"n": size}  # type: ignore[union-attr]


async def test_a_state_set_outside_an_update_is_written_and_cached_at_once(sessions, engine):
    storage = SqlStorage(sessions, keys=KEYS)
    await storage.set_state(KEY, "Report:what")
    await storage.set_data(KEY, {"n": 1})
    with state_reads(engine) as reads:
        assert await storage.get_data(KEY) == {"n": 1}
    assert reads == []
    cold = SqlStorage(sessions, keys=KEYS)
    assert (await cold.get_state(KEY), await cold.get_data(KEY)) == ("Report:what", {"n": 1})


async def test_sessions_other_than_the_processors_run_no_state_hook(plain_sessions, sessions):
    storage = SqlStorage(plain_sessions, keys=KEYS)
    await _in_session(plain_sessions, storage, state="Report:what", data={"n": 1}, commit=True)
    # A web request's or a worker's commit writes no conversation state, and caches none.
    assert await storage.get_state(KEY) is None
    assert await SqlStorage(sessions, keys=KEYS).get_state(KEY) is None
