"""The review queue: ranked by urgency and lead score, clusters as one row, claims with leases.

Within the same urgency and score, a tip whose tipster answered a moderator's question
(status "answered") comes before the others, then the oldest first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter

from core.errors import NotFound
from storage.models import OPEN_TIPS_SQL, Case, Tip, TipCluster
from storage.types import UTCDateTime, utcnow

OPEN_STATUSES = ("received", "under_review", "needs_info", "answered")
OPEN_TIPS = text(OPEN_TIPS_SQL)
CLAIM_LEASE = timedelta(minutes=10)
PAGE = 50


class ClaimConflict(Exception):
    """Somebody else holds the tip."""


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What a moderator narrows the queue to."""

    case_ref: str | None = None
    status: str | None = None
    channel: str | None = None
    cluster_ref: str | None = None
    area: tuple[float, float, float, float] | None = None  # min_lat, max_lat, min_lon, max_lon
    asked_by: int | None = None  # tips whose latest question this staff member asked
    limit: int = PAGE
    offset: int = 0


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of the queue (a whole cluster shows as its best tip with a count)."""

    tip_id: int
    ref: str
    status: str
    urgent: bool
    score: float
    channel: str
    created_at: datetime
    preview: str
    place: str | None
    case_ref: str | None
    cluster_ref: str | None
    cluster_size: int
    claimed_by: int | None


@functools.cache
def _not_cluster_head() -> ColumnElement[bool]:
    other = aliased(Tip)
    same_rank = and_(other.urgent == Tip.urgent, other.score == Tip.score)
    better = or_(
        other.urgent > Tip.urgent,
        and_(other.urgent == Tip.urgent, other.score > Tip.score),
        and_(same_rank, other.answered > Tip.answered),
        and_(same_rank, other.answered == Tip.answered, other.id < Tip.id),
    )
    return exists().where(
        other.cluster_id == Tip.cluster_id, other.status.in_(OPEN_STATUSES), better
    )


def _filtered(stmt: Select[Any], filters: QueueFilter) -> Select[Any]:
    # Literal SQL for the open statuses, so both databases can use the partial indexes.
    stmt = stmt.where(Tip.status == filters.status if filters.status else OPEN_TIPS)
    if filters.case_ref:
        case_id = select(Case.id).where(Case.ref == filters.case_ref).scalar_subquery()
        stmt = stmt.where(Tip.case_id == case_id)
    if filters.channel:
        stmt = stmt.where(Tip.channel == filters.channel)
    if filters.asked_by is not None:
        stmt = stmt.where(Tip.asked_by == filters.asked_by)
    if filters.cluster_ref:
        stmt = stmt.join(TipCluster, TipCluster.id == Tip.cluster_id).where(
            TipCluster.ref == filters.cluster_ref
        )
    elif filters.status is None:
        stmt = stmt.where(or_(Tip.cluster_id.is_(None), ~_not_cluster_head()))
    if filters.area:
        min_lat, max_lat, min_lon, max_lon = filters.area
        stmt = stmt.where(Tip.lat.between(min_lat, max_lat), Tip.lon.between(min_lon, max_lon))
    return stmt


async def list_queue(session: AsyncSession, *, filters: QueueFilter) -> list[QueueRow]:
    """The queue page: urgent first, then by lead score, answered first, oldest first."""
    stmt = _filtered(select(Tip), filters).order_by(
        Tip.urgent.desc(), Tip.score.desc(), Tip.answered.desc(), Tip.created_at
    )
    tips = (await session.scalars(stmt.limit(filters.limit).offset(filters.offset))).all()
    return await _rows(session, [t for t in tips])


async def _rows(session: AsyncSession, tips: list[Tip]) -> list[QueueRow]:
    case_ids = {t.case_id for t in tips if t.case_id}
    cluster_ids = {t.cluster_id for t in tips if t.cluster_id}
    cases: dict[int, str] = {}
    if case_ids:
        found = await session.execute(select(Case.id, Case.ref).where(Case.id.in_(case_ids)))
        cases = {case_id: ref for case_id, ref in found.all()}
    clusters = (
        {
            c.id: c
            for c in (
                await session.scalars(select(TipCluster).where(TipCluster.id.in_(cluster_ids)))
            ).all()
        }
        if cluster_ids
        else {}
    )
    return [
        QueueRow(
            tip_id=t.id,
            ref=t.ref,
            status=t.status,
            urgent=t.urgent,
            score=t.score,
            channel=t.channel,
            created_at=t.created_at,
            preview=t.text[:160],
            place=t.place_text,
            case_ref=cases.get(t.case_id) if t.case_id else None,
            cluster_ref=clusters[t.cluster_id].ref if t.cluster_id in clusters else None,
            cluster_size=clusters[t.cluster_id].size if t.cluster_id in clusters else 1,
            claimed_by=t.claimed_by,
        )
        for t in tips
    ]


def _claimable(staff_id: int, now: datetime) -> ColumnElement[bool]:
    return or_(Tip.claimed_by.is_(None), Tip.claimed_by == staff_id, Tip.claim_expires_at < now)


async def claim(session: AsyncSession, *, tip_id: int, staff_id: int) -> datetime:
    """Claim (or renew) one tip for a lease; ClaimConflict when another holds it. Commits."""
    now = utcnow()
    expires = now + CLAIM_LEASE
    result = await session.execute(
        update(Tip)
        .where(Tip.id == tip_id, Tip.status.in_(OPEN_STATUSES), _claimable(staff_id, now))
        .values(claimed_by=staff_id, claim_expires_at=expires)
    )
    await session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if await session.get(Tip, tip_id) is None:
            raise NotFound("no such tip")
        raise ClaimConflict("another moderator is reviewing this tip")
    return expires


_TIPS: Table = Tip.__table__  # type: ignore[assignment]


@functools.cache
def _claim_statement() -> Any:
    """The claim as one Core UPDATE (built once; no ORM bookkeeping on the hot path)."""
    tips = _TIPS.c
    now: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
    candidate = (
        select(tips.id)
        .where(OPEN_TIPS, or_(tips.claimed_by.is_(None), tips.claim_expires_at < now))
        .order_by(tips.urgent.desc(), tips.score.desc(), tips.answered.desc(), tips.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
        .scalar_subquery()
    )
    return (
        update(_TIPS)
        .where(tips.id == candidate)
        .values(claimed_by=bindparam("staff_id"), claim_expires_at=bindparam("until"))
        .returning(tips.id)
    )


async def claim_next(session: AsyncSession, *, staff_id: int) -> int | None:
    """Claim the highest-ranked unclaimed open tip in one statement; its id, or None. Commits."""
    now = utcnow()
    params = {"now": now, "staff_id": staff_id, "until": now + CLAIM_LEASE}
    result = await session.execute(_claim_statement(), params)
    tip_id = result.scalar_one_or_none()
    await session.commit()
    return tip_id


async def release(session: AsyncSession, *, tip_id: int, staff_id: int) -> None:
    """Give a claimed tip back to the queue. Commits."""
    await session.execute(
        update(Tip)
        .where(Tip.id == tip_id, Tip.claimed_by == staff_id)
        .values(claimed_by=None, claim_expires_at=None)
    )
    await session.commit()


async def queue_count(session: AsyncSession) -> int:
    """How many open tips there are."""
    stmt = select(func.count(Tip.id)).where(Tip.status.in_(OPEN_STATUSES))
    return int(await session.scalar(stmt) or 0)
