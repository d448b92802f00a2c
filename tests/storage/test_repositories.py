"""Repositories on both backends: they stage, the caller commits, and rollback loses it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage.models import InboxUpdate, Tip, Tipster
from storage.refs import ALPHABET, new_ref, normalise_ref
from storage.repositories import InboxRepository, TipRepository, TipsterRepository


async def test_tip_round_trips_with_utc_aware_timestamps(sessions):
    seen = datetime(2026, 5, 1, 18, 30, tzinfo=timezone(timedelta(hours=8)))
    async with sessions() as session:
        tip = await TipRepository(session).add(Tip(channel="web", text="boy in red", seen_at=seen))
        await session.commit()
        ref = tip.ref
    async with sessions() as session:
        loaded = await TipRepository(session).get_by_ref(ref)
    assert loaded is not None
    assert loaded.text == "boy in red"
    assert loaded.seen_at == seen
    assert loaded.seen_at.tzinfo is not None and loaded.seen_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo == UTC


async def test_uncommitted_tip_is_rolled_back(sessions):
    async with sessions() as session:
        await TipRepository(session).add(Tip(channel="web", text="never committed"))
    async with sessions() as session:
        assert (await session.scalars(select(Tip))).all() == []


async def test_naive_datetime_is_refused(session):
    session.add(Tip(channel="web", seen_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        await session.flush()


async def test_inbox_admits_each_update_id_once(sessions):
    async with sessions() as session:
        repo = InboxRepository(session)
        assert await repo.add_many([(1, 5, {"update_id": 1}), (2, 5, {"update_id": 2})]) == 2
        assert await repo.add_many([(2, 5, {"update_id": 2}), (3, None, {"update_id": 3})]) == 1
        await session.commit()
    async with sessions() as session:
        rows = (await session.scalars(select(InboxUpdate).order_by(InboxUpdate.update_id))).all()
        assert [row.update_id for row in rows] == [1, 2, 3]
        assert await InboxRepository(session).max_update_id() == 3


async def test_tipster_found_by_vault_lookup_hash(sessions):
    from storage.models import TipsterIdentity

    async with sessions() as session:
        repo = TipsterRepository(session)
        tipster = await repo.add(Tipster(pseudonym="Tipster-ABCD"))
        await repo.add_identity(
            TipsterIdentity(tipster_id=tipster.id, lookup_hash="h" * 64, ciphertext=b"x")
        )
        await session.commit()
    async with sessions() as session:
        found = await TipsterRepository(session).get_by_lookup_hash("h" * 64)
        assert found is not None and found.pseudonym == "Tipster-ABCD"
        assert await TipsterRepository(session).get_by_lookup_hash("z" * 64) is None


def test_refs_are_random_and_unambiguous():
    refs = {new_ref() for _ in range(2000)}
    assert len(refs) == 2000
    for ref in list(refs)[:50]:
        assert len(ref) == 9 and ref[4] == "-"
        assert set(ref.replace("-", "")) <= set(ALPHABET)
        assert normalise_ref(ref.lower().replace("-", " ")) == ref
