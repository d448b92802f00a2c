"""The queue ranks by urgency and score, shows clusters as one row, and claims never collide."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from moderation.review.queue import (
    ClaimConflict,
    QueueFilter,
    claim,
    claim_next,
    list_queue,
    release,
)
from storage.models import Tip, TipCluster
from storage.types import utcnow
from tests.moderation import factories


async def test_queue_puts_urgent_then_high_scores_first_and_collapses_clusters(sessions):
    async with sessions() as session:
        low = await factories.tip(session, score=10)
        high = await factories.tip(session, score=80)
        urgent = await factories.tip(session, score=5, urgent=True)
        cluster = TipCluster(size=3, independent_sources=2)
        session.add(cluster)
        await session.flush()
        members = [
            await factories.tip(session, score=s, cluster_id=cluster.id) for s in (30, 60, 40)
        ]
        closed = await factories.tip(session, score=99, status="spam")
        rows = await list_queue(session, filters=QueueFilter())
    refs = [r.ref for r in rows]
    assert refs == [urgent.ref, high.ref, members[1].ref, low.ref]
    assert rows[2].cluster_size == 3 and rows[2].cluster_ref == cluster.ref
    assert closed.ref not in refs
    async with sessions() as session:
        inside = await list_queue(session, filters=QueueFilter(cluster_ref=cluster.ref))
    assert [r.ref for r in inside] == [members[1].ref, members[2].ref, members[0].ref]


async def test_claim_is_exclusive_until_the_lease_expires(sessions):
    async with sessions() as session:
        a = await factories.staff(session, email="a@example.org")
        b = await factories.staff(session, email="b@example.org")
        row = await factories.tip(session)
        await claim(session, tip_id=row.id, staff_id=a.id)
        with pytest.raises(ClaimConflict):
            await claim(session, tip_id=row.id, staff_id=b.id)
        await session.execute(
            update(Tip).where(Tip.id == row.id).values(claim_expires_at=utcnow() - timedelta(1))
        )
        await session.commit()
        await claim(session, tip_id=row.id, staff_id=b.id)
        await release(session, tip_id=row.id, staff_id=b.id)
        assert await claim_next(session, staff_id=a.id) == row.id


async def test_thousand_concurrent_claims_on_ten_tips_claim_each_exactly_once(sessions):
    async with sessions() as session:
        moderators = [await factories.staff(session, email=f"m{i}@example.org") for i in range(100)]
        tips = [await factories.tip(session, score=i) for i in range(10)]
    gate = asyncio.Semaphore(50)
    won: list[tuple[int, int]] = []

    async def attempt(i: int) -> None:
        staff_id = moderators[i % 100].id
        tip_id = tips[i % 10].id
        async with gate, sessions() as session:
            try:
                await claim(session, tip_id=tip_id, staff_id=staff_id)
            except ClaimConflict:
                return
            won.append((tip_id, staff_id))

    await asyncio.gather(*(attempt(i) for i in range(1000)))
    holders: dict[int, set[int]] = {}
    for tip_id, staff_id in won:
        holders.setdefault(tip_id, set()).add(staff_id)
    assert sorted(holders) == sorted(t.id for t in tips)
    assert all(len(h) == 1 for h in holders.values())
    async with sessions() as session:
        claimed = dict((await session.execute(select(Tip.id, Tip.claimed_by))).all())
    assert {tip_id: {staff} for tip_id, staff in claimed.items()} == holders


async def test_concurrent_claim_next_hands_out_distinct_tips(sessions):
    async with sessions() as session:
        moderators = [await factories.staff(session, email=f"n{i}@example.org") for i in range(20)]
        tips = [await factories.tip(session, score=i) for i in range(10)]

    async def next_for(staff_id: int) -> int | None:
        async with sessions() as session:
            return await claim_next(session, staff_id=staff_id)

    got = await asyncio.gather(*(next_for(m.id) for m in moderators))
    handed = [g for g in got if g is not None]
    assert sorted(handed) == sorted(t.id for t in tips)


def test_open_status_sql_matches_the_open_statuses():
    from moderation.review.queue import OPEN_STATUSES
    from storage.models import OPEN_TIPS_SQL

    assert OPEN_TIPS_SQL == "status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"
