"""Police recipients of a case: added by one person, approved by another, removed, re-keyed.

Evidence custody: a new recipient (e-mail address or webhook URL) receives nothing until a
senior moderator or admin other than the one who added it approves it. Approval then queues the
case's earlier packets, oldest first, once each. A webhook recipient signs with its own secret
(core/delivery/webhook_signing.py), shown once when it is added and when it is rotated. Every
change is audited; the secret never is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import staff_action
from core.delivery.outbox import Outcome, enqueue
from core.delivery.webhook_signing import WebhookSecrets
from core.delivery.webhook_targets import TargetRules, check_address
from core.errors import InvalidInput, NotFound
from moderation.policy import require
from storage.models import Case, Forward, PoliceRecipient, StaffUser
from storage.refs import normalise_ref
from storage.types import utcnow

POLICE = "police"
ROTATION_GRACE = timedelta(hours=24)


class SamePerson(InvalidInput):
    """The approver is the person who added the recipient: a second person must approve."""


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A recipient and its webhook secret, to be shown once (None for e-mail)."""

    recipient: PoliceRecipient
    secret: str | None


def _allow(staff: StaffUser, action: str, message: str) -> None:
    require(staff, action, message)


async def _case(session: AsyncSession, case_ref: str) -> Case:
    case = await session.scalar(select(Case).where(Case.ref == normalise_ref(case_ref)))
    if case is None:
        raise NotFound("no such case")
    return case


async def _recipient(session: AsyncSession, case: Case, recipient_id: int) -> PoliceRecipient:
    row = await session.get(PoliceRecipient, recipient_id)
    if row is None or row.case_id != case.id:
        raise NotFound("no such recipient for this case")
    return row


def _secret(row: PoliceRecipient, secrets: WebhookSecrets | None) -> str | None:
    if row.kind != "webhook" or secrets is None:
        return None
    return secrets.secret(row.id, row.secret_generation)


async def add_recipient(
    session: AsyncSession,
    *,
    staff: StaffUser,
    case_ref: str,
    kind: str,
    address: str,
    label: str,
    rules: TargetRules,
    secrets: WebhookSecrets | None = None,
) -> NewSecret:
    """Add (or re-add) a recipient, pending a second person's approval. Commits; audited."""
    _allow(staff, "case.manage", "only a senior moderator may set where a case's leads go")
    address = check_address(kind, address, rules)
    case = await _case(session, case_ref)
    row = await session.scalar(
        select(PoliceRecipient).where(
            PoliceRecipient.case_id == case.id,
            PoliceRecipient.kind == kind,
            PoliceRecipient.address == address,
        )
    )
    if row is not None and row.active:
        row.label = label.strip()[:200] or row.label
        await session.commit()
        return NewSecret(recipient=row, secret=None)
    if row is None:
        row = PoliceRecipient(case_id=case.id, kind=kind, address=address, created_by=staff.id)
        session.add(row)
    else:  # a removed one comes back as new: pending, with a fresh secret
        row.secret_generation += 1
        row.previous_secret_until = None
    row.active, row.label, row.created_by = True, label.strip()[:200], staff.id
    row.approved_by, row.approved_at, row.created_at = None, None, utcnow()
    await session.flush()
    await staff_action(
        session, staff, "police.recipient_added", "case", case.ref, detail=_trail(row)
    )
    await session.commit()
    return NewSecret(recipient=row, secret=_secret(row, secrets))


async def approve_recipient(
    session: AsyncSession, *, staff: StaffUser, case_ref: str, recipient_id: int
) -> int:
    """A second person approves a pending recipient; the case's earlier packets are queued to
    it. Returns how many. Commits; audited."""
    _allow(staff, "police.recipient_approve", "only a senior moderator or admin may approve")
    case = await _case(session, case_ref)
    row = await _recipient(session, case, recipient_id)
    if not row.active:
        raise InvalidInput("this recipient was removed: add it again to use it")
    if row.approved_by is not None:
        raise InvalidInput("this recipient is already approved")
    if row.created_by == staff.id:
        raise SamePerson("you added this recipient: someone else must approve it")
    row.approved_by, row.approved_at = staff.id, utcnow()
    earlier = await send_earlier_packets(session, recipient=row)
    await staff_action(
        session,
        staff,
        "police.recipient_approved",
        "case",
        case.ref,
        detail=_trail(row, earlier_packets=earlier),
    )
    await session.commit()
    return earlier


async def rotate_secret(
    session: AsyncSession,
    *,
    staff: StaffUser,
    case_ref: str,
    recipient_id: int,
    secrets: WebhookSecrets,
    grace: timedelta = ROTATION_GRACE,
) -> NewSecret:
    """A new secret for a webhook recipient; the old one keeps signing for `grace`. Commits."""
    _allow(staff, "case.manage", "only a senior moderator may change a recipient's secret")
    case = await _case(session, case_ref)
    row = await _recipient(session, case, recipient_id)
    if row.kind != "webhook" or not row.active:
        raise InvalidInput("only an active webhook recipient has a secret")
    row.secret_generation += 1
    row.previous_secret_until = utcnow() + grace
    hours = grace / timedelta(hours=1)
    await staff_action(
        session,
        staff,
        "police.secret_rotated",
        "case",
        case.ref,
        detail=_trail(row, grace_hours=hours),
    )
    await session.commit()
    return NewSecret(recipient=row, secret=_secret(row, secrets))


async def send_earlier_packets(session: AsyncSession, *, recipient: PoliceRecipient) -> int:
    """A recipient approved after leads were forwarded gets those packets too (once each, by
    the outbox key), oldest first; how many were queued. Never commits."""
    stmt = (
        select(Forward)
        .where(Forward.case_id == recipient.case_id, Forward.audience == POLICE)
        .order_by(Forward.created_at, Forward.id)
    )
    queued = 0
    for forward in (await session.scalars(stmt)).all():
        urgent = (forward.packet or {}).get("forward", {}).get("reason") == "urgent"
        queued += await enqueue(
            session,
            channel=recipient.kind,
            recipient=police_recipient(recipient.id),
            payload={"kind": "police_packet", "forward_id": forward.id, "urgent": urgent},
            key=f"forward:{forward.id}:police:{recipient.id}",
        )
    return queued


async def deactivate_recipient(
    session: AsyncSession, *, staff: StaffUser, case_ref: str, recipient_id: int
) -> PoliceRecipient:
    """Stop sending here; deliveries not yet made are refused at send time. Commits; audited."""
    _allow(staff, "case.manage", "only a senior moderator may set where a case's leads go")
    case = await _case(session, case_ref)
    row = await _recipient(session, case, recipient_id)
    row.active = False
    await staff_action(
        session, staff, "police.recipient_removed", "case", case.ref, detail=_trail(row)
    )
    await session.commit()
    return row


async def list_recipients(
    session: AsyncSession, *, case_id: int, deliverable_only: bool = False
) -> Sequence[PoliceRecipient]:
    """A case's police recipients, oldest first (deliverable: active and approved)."""
    stmt = select(PoliceRecipient).where(PoliceRecipient.case_id == case_id)
    if deliverable_only:
        stmt = stmt.where(
            PoliceRecipient.active.is_(True), PoliceRecipient.approved_by.is_not(None)
        )
    return (await session.scalars(stmt.order_by(PoliceRecipient.id))).all()


def police_recipient(recipient_id: int) -> str:
    """The outbox recipient of a police recipient row."""
    return f"police:{int(recipient_id)}"


async def resolve_recipient(
    sessions: async_sessionmaker[AsyncSession], recipient: str, *, kind: str
) -> PoliceRecipient | Outcome:
    """The live, approved recipient row behind `police:<id>`, or the permanent outcome saying
    why nothing may be sent to it."""
    prefix, _, number = recipient.partition(":")
    if prefix != POLICE or not number.isdigit():
        return Outcome.permanent("unknown recipient")
    async with sessions() as session:
        row = await session.get(PoliceRecipient, int(number))
    if row is None or row.kind != kind:
        return Outcome.permanent("the police recipient no longer exists")
    if not row.active:
        return Outcome.permanent("the police recipient was removed before this was sent")
    if row.approved_by is None:
        return Outcome.permanent("the police recipient is not approved by a second person")
    return row


def _trail(row: PoliceRecipient, **extra: Any) -> dict[str, Any]:
    """What the trail keeps of a police recipient (the address is staff-entered, not secret)."""
    return {"recipient_id": row.id, "kind": row.kind, "address": row.address, **extra}
