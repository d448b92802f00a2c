"""Admin actions on the inbox: see the updates parked as dead, and send them round again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxUpdate
from storage.repositories import InboxRepository
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class DeadUpdate:
    """A parked update, described without its content (it may hold a tip's text)."""

    update_id: int
    attempts: int
    last_error: str
    received_at: datetime
    kind: str


async def list_dead(session: AsyncSession, *, limit: int = 100) -> list[DeadUpdate]:
    """Updates parked after repeated failures."""
    rows = await InboxRepository(session).list_dead(limit=limit)
    return [
        DeadUpdate(
            update_id=row.update_id,
            attempts=row.attempts,
            last_error=row.last_error or "",
            received_at=row.received_at,
            kind=next((k for k in row.payload if k != "update_id"), "unknown"),
        )
        for row in rows
    ]


async def retry_dead(session: AsyncSession, *, update_ids: list[int] | None = None) -> int:
    """Put dead updates back in the queue (all of them when no ids are given); commits."""
    stmt = update(InboxUpdate).where(InboxUpdate.status == "dead")
    if update_ids:
        stmt = stmt.where(InboxUpdate.update_id.in_(update_ids))
    result = await session.execute(
        stmt.values(status="pending", attempts=0, next_attempt_at=utcnow())
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def inbox_counts(session: AsyncSession) -> dict[str, int]:
    """How many updates are pending, done and dead."""
    stmt = select(InboxUpdate.status, func.count()).group_by(InboxUpdate.status)
    return {status: int(count) for status, count in (await session.execute(stmt)).all()}
