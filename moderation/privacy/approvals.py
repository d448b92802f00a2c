"""Two senior moderators for one act on a tipster's identity (a reveal, an erasure): one asks
with a reason, a different one approves or refuses; each request is decided once, each step
audited. `reveal.py` and `erasure.py` say what the act does; this module is the rule they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from moderation.policy import require
from storage.models import ErasureRequest, RevealRequest, StaffUser, Tipster
from storage.types import utcnow

MIN_REASON = 20
MAX_REASON = 2000
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"

R = TypeVar("R", RevealRequest, ErasureRequest)


def checked_reason(reason: str) -> str:
    """The reason without surrounding blanks; refused unless of a reviewable length."""
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"give a reason of {MIN_REASON} to {MAX_REASON} characters")
    return reason


@dataclass(frozen=True)
class TwoSeniors(Generic[R]):
    """The two-senior rule over one kind of request (`act`: "reveal", "erasure")."""

    model: type[R]
    act: str

    def allow(self, staff: StaffUser, step: str) -> None:
        """Refuse anyone whose role may not take this step ("request" or "approve")."""
        require(staff, f"identity.{step}_{self.act}", "only a senior moderator may do this")

    async def audit(
        self, session: AsyncSession, staff: StaffUser, row: R, done: str, **audit: Any
    ) -> None:
        """Record a step (`identity.<act>_<done>`) against the tipster's pseudonym."""
        tipster = await session.get(Tipster, row.tipster_id)
        ref = tipster.pseudonym if tipster is not None else str(row.tipster_id)
        await staff_action(session, staff, f"identity.{self.act}_{done}", "tipster", ref, **audit)

    async def ask(
        self,
        session: AsyncSession,
        *,
        staff: StaffUser,
        tipster_id: int,
        reason: str,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> R:
        """A request for the tipster, or the one already pending; audited. Commits."""
        pending = await session.scalar(
            select(self.model).where(
                self.model.tipster_id == tipster_id, self.model.status == PENDING
            )
        )
        if pending is not None:
            return pending
        row = self.model(
            tipster_id=tipster_id, requested_by=staff.id, reason=reason, status=PENDING, **fields
        )
        session.add(row)
        await session.flush()
        audit_detail = {"request_id": row.id, **(detail or {})}
        await self.audit(session, staff, row, "requested", reason=reason, detail=audit_detail)
        await session.commit()
        return row

    async def list_pending(self, session: AsyncSession, *, staff: StaffUser) -> Sequence[R]:
        """Requests waiting for a second senior moderator, oldest first."""
        self.allow(staff, "approve")
        stmt = (
            select(self.model)
            .where(self.model.status == PENDING)
            .order_by(self.model.created_at, self.model.id)
        )
        return (await session.scalars(stmt)).all()

    async def approvable(self, session: AsyncSession, *, staff: StaffUser, request_id: int) -> R:
        """The request a senior moderator other than its asker is about to approve."""
        self.allow(staff, "approve")
        row = await self._get(session, request_id)
        if row.requested_by == staff.id:
            raise PermissionError("a different senior moderator must approve your request")
        return row

    async def close(
        self, session: AsyncSession, *, staff: StaffUser, request_id: int, status: str
    ) -> R:
        """Decide a pending request exactly once (a second decision is refused)."""
        await self._get(session, request_id)
        result = await session.execute(
            update(self.model)
            .where(self.model.id == request_id, self.model.status == PENDING)
            .values(status=status, decided_by=staff.id, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidInput("this request was already approved or refused")
        return await self._get(session, request_id, fresh=True)

    async def refuse(
        self, session: AsyncSession, *, staff: StaffUser, request_id: int, reason: str
    ) -> R:
        """Refuse a request (its asker may withdraw it); audited. Commits."""
        self.allow(staff, "approve")
        row = await self.close(session, staff=staff, request_id=request_id, status=REFUSED)
        await self.audit(
            session,
            staff,
            row,
            "refused",
            reason=reason.strip()[:MAX_REASON] or None,
            detail={"request_id": row.id, "requested_by": row.requested_by},
        )
        await session.commit()
        return row

    async def _get(self, session: AsyncSession, request_id: int, *, fresh: bool = False) -> R:
        row = await session.get(self.model, request_id, populate_existing=fresh)
        if row is None:
            raise NotFound("no such request")
        return row
