"""Revealing a tipster's identity: one senior moderator asks with a reason, a second one approves
(the two-senior rule of approvals.py).

The requester never sees the identity; the approver sees it once, in the answer to the approval.
Nothing is stored in plain text: the vault row is opened in memory and both steps are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from core.identity.vault import Vault
from moderation.privacy.approvals import APPROVED, TwoSeniors, checked_reason
from storage.models import RevealRequest, StaffUser, Tip, Tipster
from storage.repositories import TipsterRepository

REVEAL = TwoSeniors(RevealRequest, "reveal")
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
    REVEAL.allow(staff, "request")
    reason = checked_reason(reason)
    await _tipster(session, tipster_id)
    tip_ref = await _tip_ref(session, tip_id=tip_id, tipster_id=tipster_id)
    return await REVEAL.ask(
        session,
        staff=staff,
        tipster_id=tipster_id,
        reason=reason,
        detail={"tip_ref": tip_ref},
        tip_id=tip_id,
    )


async def list_pending(session: AsyncSession, *, staff: StaffUser) -> Sequence[RevealRequest]:
    """Requests waiting for a second senior moderator, oldest first."""
    return await REVEAL.list_pending(session, staff=staff)


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
    pending = await REVEAL.approvable(session, staff=staff, request_id=request_id)
    identity = await TipsterRepository(session).get_identity(tipster_id=pending.tipster_id)
    if identity is None:
        raise NotFound("this tipster left no identity to reveal")
    row = await REVEAL.close(session, staff=staff, request_id=request_id, status=APPROVED)
    tipster = await _tipster(session, row.tipster_id)
    data = vault.open(identity.ciphertext)
    await REVEAL.audit(
        session,
        staff,
        row,
        "approved",
        reason=row.reason,
        detail={"request_id": row.id, "requested_by": row.requested_by, "tip_id": row.tip_id},
    )
    await session.commit()
    return _identity(row.id, tipster.pseudonym, data)


async def refuse_reveal(
    session: AsyncSession, *, staff: StaffUser, request_id: int, reason: str = ""
) -> RevealRequest:
    """Refuse a request (the requester may withdraw their own); audited. Commits."""
    return await REVEAL.refuse(session, staff=staff, request_id=request_id, reason=reason)
