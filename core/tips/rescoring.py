"""Scores that stay current: tips scored again when their case's last-seen time or place
changes, and when time moves a sighting into an older recency band.

Writers mark tips (`mark_case_tips`); the rescoring worker (workers/rescoring.py) scores the
marked ones every few seconds (`rescore_marked`) and sweeps the open tips for recency once an
hour (`rescore_decayed`). Each change lands in the tip's score history with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.tips.evaluate import DEFAULT_EVIDENCE_SETTINGS, EvidenceSettings, rescore_tip
from core.tips.scoring import TipFacts, recency_part
from storage.models import OPEN_TIPS_SQL, RESCORE_DUE_SQL, Case, Tip

# Recency stops changing 90 days after a sighting (core.tips.scoring.recency_part).
RECENCY_HORIZON = timedelta(days=91)
LAST_SEEN_FIELDS = frozenset({"last_seen_at", "last_seen_lat", "last_seen_lon"})
TIME_PASSED = "Time passed: the sighting moved to an older recency band."


def case_moved_reason(case: Case) -> str:
    """Why a case's tips are scored again after its last-seen time or place changed."""
    return f"Case {case.ref}'s last-seen time or place changed."


async def mark_case_tips(session: AsyncSession, *, case: Case) -> int:
    """Ask for every tip of the case to be scored again (in the caller's transaction)."""
    result = await session.execute(
        update(Tip)
        .where(Tip.case_id == case.id)
        .values(rescore_reason=case_moved_reason(case))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def rescore_marked(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int = 100,
    settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
) -> int:
    """Score up to `limit` marked tips again; how many were looked at. Commits."""
    stmt = (
        select(Tip)
        .where(text(RESCORE_DUE_SQL))
        .order_by(Tip.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: two workers never take the same tip
    )
    tips = (await session.scalars(stmt)).all()
    for tip in tips:
        await rescore_tip(
            session, tip=tip, now=now, reason=tip.rescore_reason or "", settings=settings
        )
    await session.commit()
    return len(tips)


@dataclass(frozen=True, slots=True)
class Sweep:
    """One page of the recency sweep: the last tip id looked at, and how many were rescored."""

    last_id: int | None
    rescored: int


def _stale_recency(tip: Tip, now: datetime) -> bool:
    """Whether the recency points stored with the score differ from what they are now."""
    stored: dict[str, Any] | None = next(
        (p for p in tip.score_parts.get("parts", ()) if p.get("name") == "recency"), None
    )
    if stored is None:
        return False
    seen_at = _seen_at(stored, tip)
    if seen_at is None:
        return False
    return bool(recency_part(TipFacts(seen_at=seen_at), now).points != stored.get("points"))


def _seen_at(part: dict[str, Any], tip: Tip) -> datetime | None:
    raw = (part.get("data") or {}).get("seen_at")
    if not raw:
        return tip.seen_at  # scored before the time was kept with the part
    at = datetime.fromisoformat(str(raw))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def rescore_decayed(
    session: AsyncSession,
    *,
    now: datetime,
    after_id: int = 0,
    page: int = 500,
    settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
) -> Sweep:
    """One page (by id) of open scored tips: those whose recency band changed are scored
    again. Commits. `last_id` is None when the sweep is complete."""
    stmt = (
        select(Tip)
        .where(
            text(OPEN_TIPS_SQL),
            Tip.evaluated_at.is_not(None),
            Tip.id > after_id,
            or_(Tip.seen_at.is_(None), Tip.seen_at >= now - RECENCY_HORIZON),
        )
        .order_by(Tip.id)
        .limit(page)
    )
    tips = (await session.scalars(stmt)).all()
    rescored = 0
    for tip in tips:
        if _stale_recency(tip, now):
            rescored += await rescore_tip(
                session, tip=tip, now=now, reason=TIME_PASSED, settings=settings
            )
    await session.commit()
    return Sweep(last_id=tips[-1].id if len(tips) == page else None, rescored=rescored)
