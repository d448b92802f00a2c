"""The dashboard's queue page and its one bulk act: deciding a whole cluster at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from moderation.policy import require
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from moderation.review.queue import (
    OPEN_STATUSES,
    ClaimConflict,
    QueueFilter,
    QueueRow,
    list_queue,
    queue_count,
)
from storage.models import StaffUser, Tip, TipCluster
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class QueuePage:
    """Ranked rows, who holds a live claim on which, and how many tips are open in all."""

    rows: list[QueueRow]
    holders: dict[int, str]
    open_count: int


async def queue_page(session: AsyncSession, *, staff: StaffUser, filters: QueueFilter) -> QueuePage:
    """The queue as one staff member sees it."""
    require(staff, "queue.view", "your role may not see the queue")
    rows = await list_queue(session, filters=filters)
    claimed = [r.tip_id for r in rows if r.claimed_by is not None]
    holders: dict[int, str] = {}
    if claimed:
        stmt = (
            select(Tip.id, StaffUser.email)
            .join(StaffUser, StaffUser.id == Tip.claimed_by)
            .where(Tip.id.in_(claimed), Tip.claim_expires_at > utcnow())
        )
        holders = {tip_id: email for tip_id, email in (await session.execute(stmt)).all()}
    return QueuePage(rows=rows, holders=holders, open_count=await queue_count(session))


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk decision did: the tips decided, and those left alone with the reason."""

    decided: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def decide_cluster(
    session: AsyncSession,
    *,
    staff: StaffUser,
    cluster_ref: str,
    outcome: Outcome,
    note: str = "",
    duplicate_of: str | None = None,
) -> BulkResult:
    """Decide every open tip of a cluster, each through decide (one effect, one audit each).

    A tip decided meanwhile or held by a colleague is skipped, not overridden. Commits per tip.
    """
    require(staff, "tip.bulk_decide", "your role may not decide clusters")
    if outcome is Outcome.NEEDS_INFO:
        raise InvalidInput("questions go to one tipster at a time: open the tip to ask")
    cluster = await session.scalar(select(TipCluster).where(TipCluster.ref == cluster_ref))
    if cluster is None:
        raise NotFound("no such cluster")
    stmt = (
        select(Tip.ref)
        .where(Tip.cluster_id == cluster.id, Tip.status.in_(OPEN_STATUSES))
        .order_by(Tip.id)
    )
    result = BulkResult()
    for ref in (await session.scalars(stmt)).all():
        if ref == duplicate_of:
            result.skipped.append((ref, "the tip the others duplicate"))
            continue
        try:
            await decide(
                session,
                staff=staff,
                tip_ref=ref,
                outcome=outcome,
                note=note,
                duplicate_of=duplicate_of,
            )
        except (AlreadyDecided, ClaimConflict) as exc:
            result.skipped.append((ref, str(exc)))
        else:
            result.decided.append(ref)
    return result
