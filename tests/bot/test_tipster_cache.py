"""The tipster cache: a known tipster costs no query, and a stale count is never trusted."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from bot.tipsters import TipsterCache
from bot.update_session import update_sessions
from storage.models import Tipster
from tests.bot.fixtures import all_tips, sent_ref, tipsters, walk_to_summary

CHAT = 3601


@pytest.fixture
def sessions(sessions):  # type: ignore[no-untyped-def]
    """The inbox processor's sessions: their commits keep the tipster cache true."""
    return update_sessions(sessions)


def _tipster_reads(engine, seen: list[str]):  # type: ignore[no-untyped-def]
    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM tipsters" in statement:
            seen.append(statement)

    return note


async def test_a_known_tipster_costs_no_query_and_their_tip_is_theirs(chat, fake, engine):
    await chat.send(fake.command(CHAT, "start"))
    seen: list[str] = []
    note = _tipster_reads(engine, seen)
    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        await walk_to_summary(chat, fake, CHAT, text="Boy in a blue cap")
        await chat.press(CHAT, "Send report")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert seen == []
    ref = sent_ref(chat.last_text(CHAT))
    [tipster] = await tipsters(chat.sessions)
    [tip] = [t for t in await all_tips(chat.sessions) if t.ref == ref]
    assert tip.tipster_id == tipster.id


async def test_counts_and_blocked_are_read_fresh_not_from_the_cache(sessions):
    cache = TipsterCache()
    async with sessions() as session:
        tipster = Tipster(pseudonym="T-CACHE-1", language="zh-Hans")
        session.add(tipster)
        await session.commit()
        cache.remember("lookup", tipster)
    async with sessions() as session:  # a moderator, elsewhere
        await session.execute(
            update(Tipster).where(Tipster.id == tipster.id).values(blocked=True, spam_count=3)
        )
        await session.commit()
    async with sessions() as session:
        cached = cache.attach(session, "lookup")
        assert cached is not None
        assert (cached.id, cached.pseudonym, cached.language) == (
            tipster.id,
            "T-CACHE-1",
            "zh-Hans",
        )
        fresh = await session.run_sync(lambda _: (cached.blocked, cached.spam_count))
        assert fresh == (True, 3)
        assert cache.attach(session, "someone else") is None


async def test_a_rolled_back_language_change_keeps_the_cache_and_a_committed_one_clears_it(
    sessions,
):
    cache = TipsterCache()
    async with sessions() as session:
        tipster = Tipster(pseudonym="T-CACHE-2", language="en")
        session.add(tipster)
        await session.commit()
        cache.remember("lookup", tipster)
    async with sessions() as session:
        cached = cache.attach(session, "lookup")
        assert cached is not None
        cached.language = "zh-Hans"
        await session.flush()
        await session.rollback()
    async with sessions() as session:
        cached = cache.attach(session, "lookup")
        assert cached is not None and cached.language == "en"
        cached.language = "zh-Hans"
        await session.commit()
    async with sessions() as session:
        assert cache.attach(session, "lookup") is None


def test_a_full_cache_forgets_the_least_recently_active_tipster():
    cache = TipsterCache(size=1)
    cache.remember("a", Tipster(id=1, pseudonym="T-A", language="en"))
    cache.remember("b", Tipster(id=2, pseudonym="T-B", language="en"))
    assert cache._rows.keys() == {"b"}
    assert cache._keys == {2: "b"}
