"""Erasing a tipster's identity for them, by pseudonym: one senior moderator asks with a reason,
a second one approves (as for a reveal). Tipsters erase their own with /forget in the bot."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from core.identity.conversations import RedisConversations
from core.identity.erasure import Erased, erase_identity
from core.identity.vault import Vault
from moderation.policy import require
from storage.models import ErasureRequest, StaffUser, Tipster, TipsterIdentity
from storage.photostore import PhotoStore
from storage.types import utcnow

MIN_REASON = 20
MAX_REASON = 2000
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"


def _allow(staff: StaffUser, action: str) -> None:
    require(staff, action, "only a senior moderator may do this")


async def _tipster_by_pseudonym(session: AsyncSession, pseudonym: str) -> Tipster:
    tipster = await session.scalar(
        select(Tipster).where(Tipster.pseudonym == pseudonym.strip().upper())
    )
    if tipster is None:
        raise NotFound("no tipster has this pseudonym")
    return tipster


async def request_erasure(
    session: AsyncSession, *, staff: StaffUser, pseudonym: str, reason: str
) -> ErasureRequest:
    """Ask to erase a tipster's identity; the pending request if one exists. Commits."""
    _allow(staff, "identity.request_erasure")
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"give a reason of {MIN_REASON} to {MAX_REASON} characters")
    tipster = await _tipster_by_pseudonym(session, pseudonym)
    held = await session.scalar(
        select(TipsterIdentity.id).where(TipsterIdentity.tipster_id == tipster.id)
    )
    if held is None:
        raise InvalidInput("this tipster's identity is already erased")
    pending = await session.scalar(
        select(ErasureRequest).where(
            ErasureRequest.tipster_id == tipster.id, ErasureRequest.status == PENDING
        )
    )
    if pending is not None:
        return pending
    row = ErasureRequest(
        tipster_id=tipster.id, requested_by=staff.id, reason=reason, status=PENDING
    )
    session.add(row)
    await session.flush()
    await staff_action(
        session,
        staff,
        "identity.erasure_requested",
        "tipster",
        tipster.pseudonym,
        reason=reason,
        detail={"request_id": row.id},
    )
    await session.commit()
    return row


async def list_pending(session: AsyncSession, *, staff: StaffUser) -> Sequence[ErasureRequest]:
    """Requests waiting for a second senior moderator, oldest first."""
    _allow(staff, "identity.approve_erasure")
    stmt = (
        select(ErasureRequest)
        .where(ErasureRequest.status == PENDING)
        .order_by(ErasureRequest.created_at, ErasureRequest.id)
    )
    return (await session.scalars(stmt)).all()


async def _close(
    session: AsyncSession, *, staff: StaffUser, request_id: int, status: str
) -> ErasureRequest:
    """Decide a pending request exactly once (a second decision is refused)."""
    result = await session.execute(
        update(ErasureRequest)
        .where(ErasureRequest.id == request_id, ErasureRequest.status == PENDING)
        .values(status=status, decided_by=staff.id, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput("this request was already approved or refused")
    row = await session.get(ErasureRequest, request_id, populate_existing=True)
    assert row is not None
    return row


async def _pending(session: AsyncSession, request_id: int) -> ErasureRequest:
    row = await session.get(ErasureRequest, request_id)
    if row is None:
        raise NotFound("no such request")
    return row


async def approve_erasure(
    session: AsyncSession,
    vault: Vault,
    *,
    staff: StaffUser,
    request_id: int,
    originals: PhotoStore | None = None,
    conversations: RedisConversations | None = None,
) -> Erased:
    """A second senior moderator approves: the identity is erased at once, audited. Commits."""
    _allow(staff, "identity.approve_erasure")
    pending = await _pending(session, request_id)
    if pending.requested_by == staff.id:
        raise PermissionError("a different senior moderator must approve your request")
    row = await _close(session, staff=staff, request_id=request_id, status=APPROVED)
    return await erase_identity(
        session,
        vault,
        tipster_id=row.tipster_id,
        actor_id=staff.id,
        actor_role=staff.role,
        reason=row.reason,
        request_id=row.id,
        originals=originals,
        conversations=conversations,
    )


async def refuse_erasure(
    session: AsyncSession, *, staff: StaffUser, request_id: int, reason: str = ""
) -> ErasureRequest:
    """Refuse (or withdraw one's own) request; audited. Commits."""
    _allow(staff, "identity.approve_erasure")
    await _pending(session, request_id)
    row = await _close(session, staff=staff, request_id=request_id, status=REFUSED)
    tipster = await session.get(Tipster, row.tipster_id)
    await staff_action(
        session,
        staff,
        "identity.erasure_refused",
        "tipster",
        tipster.pseudonym if tipster else str(row.tipster_id),
        reason=reason.strip()[:MAX_REASON] or None,
        detail={"request_id": row.id, "requested_by": row.requested_by},
    )
    await session.commit()
    return row
