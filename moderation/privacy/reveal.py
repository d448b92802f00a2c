"""Revealing a tipster's identity: one senior moderator asks with a reason, a second one approves.

The requester never sees the identity; the approver sees it once, in the answer to the approval.
Nothing is stored in plain text: the vault row is opened in memory and both steps are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from core.identity.vault import Vault
from moderation.policy import require
from storage.models import RevealRequest, StaffUser, Tip, Tipster
from storage.repositories import TipsterRepository
from storage.types import utcnow

MIN_REASON = 20
MAX_REASON = 2000
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"
_NAMED = ("chat_id", "user_id", "username", "first_name", "last_name", "phone")


@dataclass(frozen=True, slots=True)
class RevealedIdentity:
    """What the vault holds about a tipster, shown once to the approving senior moderator."""

    request_id: int
    pseudonym: str
    chat_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    # Anything else the vault keeps (e.g. contact cards the tipster shared about someone else).
    other: dict[str, Any] = field(default_factory=dict)


def _allow(staff: StaffUser, action: str) -> None:
    require(staff, action, "only a senior moderator may do this")


async def _tipster(session: AsyncSession, tipster_id: int) -> Tipster:
    tipster = await session.get(Tipster, tipster_id)
    if tipster is None:
        raise NotFound("no such tipster")
    return tipster


async def _tip_ref(session: AsyncSession, *, tip_id: int | None, tipster_id: int) -> str | None:
    if tip_id is None:
        return None
    tip = await session.get(Tip, tip_id)
    if tip is None or tip.tipster_id != tipster_id:
        raise InvalidInput("name a tip this tipster sent")
    return tip.ref


async def request_reveal(
    session: AsyncSession, *, staff: StaffUser, tipster_id: int, tip_id: int | None, reason: str
) -> RevealRequest:
    """Ask to see a tipster's identity; the pending request if one exists. Commits."""
    _allow(staff, "identity.request_reveal")
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"give a reason of {MIN_REASON} to {MAX_REASON} characters")
    tipster = await _tipster(session, tipster_id)
    tip_ref = await _tip_ref(session, tip_id=tip_id, tipster_id=tipster_id)
    pending = await session.scalar(
        select(RevealRequest).where(
            RevealRequest.tipster_id == tipster_id, RevealRequest.status == PENDING
        )
    )
    if pending is not None:
        return pending
    row = RevealRequest(
        tipster_id=tipster_id, tip_id=tip_id, requested_by=staff.id, reason=reason, status=PENDING
    )
    session.add(row)
    await session.flush()
    await staff_action(
        session,
        staff,
        "identity.reveal_requested",
        "tipster",
        tipster.pseudonym,
        reason=reason,
        detail={"request_id": row.id, "tip_ref": tip_ref},
    )
    await session.commit()
    return row


async def list_pending(session: AsyncSession, *, staff: StaffUser) -> Sequence[RevealRequest]:
    """Requests waiting for a second senior moderator, oldest first."""
    _allow(staff, "identity.approve_reveal")
    stmt = (
        select(RevealRequest)
        .where(RevealRequest.status == PENDING)
        .order_by(RevealRequest.created_at, RevealRequest.id)
    )
    return (await session.scalars(stmt)).all()


async def _close(
    session: AsyncSession, *, staff: StaffUser, request_id: int, status: str
) -> RevealRequest:
    row = await session.get(RevealRequest, request_id)
    if row is None:
        raise NotFound("no such request")
    result = await session.execute(
        update(RevealRequest)
        .where(RevealRequest.id == request_id, RevealRequest.status == PENDING)
        .values(status=status, decided_by=staff.id, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput("this request was already approved or refused")
    await session.refresh(row)
    return row


def _identity(request_id: int, pseudonym: str, data: dict[str, Any]) -> RevealedIdentity:
    named = {key: data.get(key) for key in _NAMED}
    return RevealedIdentity(
        request_id=request_id,
        pseudonym=pseudonym,
        chat_id=named["chat_id"] if isinstance(named["chat_id"], int) else None,
        user_id=named["user_id"] if isinstance(named["user_id"], int) else None,
        username=str(named["username"]) if named["username"] else None,
        first_name=str(named["first_name"]) if named["first_name"] else None,
        last_name=str(named["last_name"]) if named["last_name"] else None,
        phone=str(named["phone"]) if named["phone"] else None,
        other={key: value for key, value in data.items() if key not in _NAMED},
    )


async def approve_reveal(
    session: AsyncSession, vault: Vault, *, staff: StaffUser, request_id: int
) -> RevealedIdentity:
    """A second senior moderator approves: the identity is returned once and audited. Commits."""
    _allow(staff, "identity.approve_reveal")
    pending = await session.get(RevealRequest, request_id)
    if pending is None:
        raise NotFound("no such request")
    if pending.requested_by == staff.id:
        raise PermissionError("a different senior moderator must approve your request")
    identity = await TipsterRepository(session).get_identity(tipster_id=pending.tipster_id)
    if identity is None:
        raise NotFound("this tipster left no identity to reveal")
    row = await _close(session, staff=staff, request_id=request_id, status=APPROVED)
    tipster = await _tipster(session, row.tipster_id)
    data = vault.open(identity.ciphertext)
    await staff_action(
        session,
        staff,
        "identity.reveal_approved",
        "tipster",
        tipster.pseudonym,
        reason=row.reason,
        detail={"request_id": row.id, "requested_by": row.requested_by, "tip_id": row.tip_id},
    )
    await session.commit()
    return _identity(row.id, tipster.pseudonym, data)


async def refuse_reveal(
    session: AsyncSession, *, staff: StaffUser, request_id: int, reason: str = ""
) -> RevealRequest:
    """Refuse a request (the requester may withdraw their own); audited. Commits."""
    _allow(staff, "identity.approve_reveal")
    row = await _close(session, staff=staff, request_id=request_id, status=REFUSED)
    tipster = await _tipster(session, row.tipster_id)
    await staff_action(
        session,
        staff,
        "identity.reveal_refused",
        "tipster",
        tipster.pseudonym,
        reason=reason.strip()[:MAX_REASON] or None,
        detail={"request_id": row.id, "requested_by": row.requested_by},
    )
    await session.commit()
    return row
