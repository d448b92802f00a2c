"""Staff management by admins: roles, deactivation, 2FA resets, invitations and approvals.

Every change names a reason and is audited with who, whom and what. Two guards hold whatever
the caller: no change may leave the installation without an active admin, and the admin role
is granted by one admin alone only while they are the only one; with two or more, a second
admin approves (a role request, or an admin invitation that waits for approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from core.identity.roles import Role
from core.identity.staff import parse_staff_role
from moderation.policy import require
from moderation.staff.auth import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT
from moderation.staff.invites import NewInvite, active_admins, invite_state, reset_invite
from storage.models import (
    StaffInvite,
    StaffRecoveryCode,
    StaffRoleRequest,
    StaffSession,
    StaffUser,
)
from storage.types import utcnow

MAX_REASON = 500
LAST_ADMIN = "this would leave no active admin; make someone else an admin first"


@dataclass(frozen=True, slots=True)
class StaffRow:
    """One account as the Staff page lists it."""

    user: StaffUser
    enrolled: bool
    open_sessions: int
    recovery_codes_left: int


def _check_actor(actor: StaffUser) -> None:
    require(actor, "staff.manage", "only an active admin manages staff")


def check_reason(reason: str) -> str:
    """A reason for the audit trail: required, and not a novel."""
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput("say why (a few words), for the audit trail")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"keep the reason under {MAX_REASON} characters")
    return reason


async def _target(session: AsyncSession, staff_id: int) -> StaffUser:
    user = await session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound("no such staff account")
    return user


async def _audit(
    session: AsyncSession,
    actor: StaffUser,
    action: str,
    whom: StaffUser,
    reason: str,
    **detail: Any,
) -> None:
    await staff_action(
        session,
        actor,
        action,
        "staff_user",
        str(whom.id),
        reason=reason,
        detail={"email": whom.email, **detail},
    )


async def record_refusal(session: AsyncSession, *, actor: StaffUser, what: str, why: str) -> None:
    """Audit a refused staff change (nothing else changed). Commits."""
    await staff_action(
        session, actor, "staff.refused", "staff", what[:64], detail={"why": why[:300]}
    )
    await session.commit()


async def list_staff(session: AsyncSession) -> list[StaffRow]:
    """Every account with its second factor, open sessions and recovery codes left."""
    now = utcnow()
    counts = dict(
        (
            await session.execute(
                select(StaffSession.staff_id, func.count(StaffSession.id))
                .where(StaffSession.ended_at.is_(None), StaffSession.verified.is_(True))
                .where(StaffSession.created_at > now - ABSOLUTE_TIMEOUT)
                .where(StaffSession.last_seen_at > now - IDLE_TIMEOUT)
                .group_by(StaffSession.staff_id)
            )
        ).all()
    )
    codes = dict(
        (
            await session.execute(
                select(StaffRecoveryCode.staff_id, func.count(StaffRecoveryCode.id))
                .where(StaffRecoveryCode.used_at.is_(None))
                .group_by(StaffRecoveryCode.staff_id)
            )
        ).all()
    )
    users = (await session.scalars(select(StaffUser).order_by(StaffUser.email))).all()
    return [
        StaffRow(
            user=u,
            enrolled=u.totp_secret is not None,
            open_sessions=int(counts.get(u.id, 0)),
            recovery_codes_left=int(codes.get(u.id, 0)),
        )
        for u in users
    ]


async def end_sessions(session: AsyncSession, *, staff_id: int) -> int:
    """End every session of an account at once (the caller commits)."""
    result = await session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _keeps_an_admin(session: AsyncSession, whom: StaffUser) -> None:
    """Refuse to remove the last active admin (by demotion or deactivation)."""
    if whom.role == Role.ADMIN.value and whom.active and await active_admins(session) <= 1:
        raise InvalidInput(LAST_ADMIN)


async def change_role(
    session: AsyncSession, *, actor: StaffUser, staff_id: int, role: str, reason: str
) -> str:
    """Change a role ("changed"), or ask a second admin to grant admin ("requested"). Commits."""
    _check_actor(actor)
    reason = check_reason(reason)
    parsed = parse_staff_role(role)
    whom = await _target(session, staff_id)
    if whom.role == parsed.value:
        raise InvalidInput(f"{whom.email} already is {parsed.value.replace('_', ' ')}")
    if whom.role == Role.ADMIN.value:
        await _keeps_an_admin(session, whom)
    if parsed is Role.ADMIN and await active_admins(session) >= 2:
        session.add(
            StaffRoleRequest(
                staff_id=whom.id, role=parsed.value, reason=reason, requested_by=actor.id
            )
        )
        await _audit(session, actor, "staff.role_requested", whom, reason, role=parsed.value)
        await session.commit()
        return "requested"
    before = whom.role
    whom.role = parsed.value
    await _audit(session, actor, "staff.role", whom, reason, before=before, after=parsed.value)
    await session.commit()
    return "changed"


async def decide_role_request(
    session: AsyncSession, *, actor: StaffUser, request_id: int, approve: bool
) -> StaffRoleRequest:
    """A second admin approves or refuses a grant of the admin role. Commits."""
    _check_actor(actor)
    request = await session.get(StaffRoleRequest, request_id)
    if request is None or request.status != "pending":
        raise InvalidInput("this request was already decided or does not exist")
    if approve and request.requested_by == actor.id:
        raise InvalidInput("a second admin must approve this: you asked for it")
    whom = await _target(session, request.staff_id)
    request.status = "approved" if approve else "refused"
    request.decided_by = actor.id
    request.decided_at = utcnow()
    if approve:
        before, whom.role = whom.role, request.role
        detail = {"before": before, "after": request.role, "request": request.id}
        await _audit(session, actor, "staff.role", whom, request.reason, **detail)
    else:
        await _audit(session, actor, "staff.role_refused", whom, request.reason, role=request.role)
    await session.commit()
    return request


async def set_active(
    session: AsyncSession, *, actor: StaffUser, staff_id: int, active: bool, reason: str
) -> StaffUser:
    """Deactivate (ending every session at once) or reactivate an account. Commits."""
    _check_actor(actor)
    reason = check_reason(reason)
    whom = await _target(session, staff_id)
    if whom.active == active:
        raise InvalidInput(f"{whom.email} is already {'active' if active else 'deactivated'}")
    if not active:
        await _keeps_an_admin(session, whom)
        ended = await end_sessions(session, staff_id=whom.id)
    else:
        ended = 0
    whom.active = active
    action = "staff.reactivate" if active else "staff.deactivate"
    await _audit(session, actor, action, whom, reason, sessions_ended=ended)
    await session.commit()
    return whom


async def reset_2fa(
    session: AsyncSession, *, actor: StaffUser, staff_id: int, reason: str
) -> NewInvite:
    """Drop someone's second factor, end their sessions, and make a re-enrolment link. Commits."""
    _check_actor(actor)
    reason = check_reason(reason)
    whom = await _target(session, staff_id)
    if not whom.active:
        raise InvalidInput(f"{whom.email} is deactivated; reactivate the account first")
    whom.totp_secret = None
    whom.totp_last_step = None
    await session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == whom.id))
    ended = await end_sessions(session, staff_id=whom.id)
    new = await reset_invite(session, staff=whom, created_by=actor, reason=reason)
    await _audit(
        session,
        actor,
        "staff.reset_2fa",
        whom,
        reason,
        sessions_ended=ended,
        invite=new.invite.id,
        needs_approval=new.invite.needs_approval,
    )
    await session.commit()
    return new


async def revoke_invite(
    session: AsyncSession, *, actor: StaffUser, invite_id: int, reason: str
) -> StaffInvite:
    """Revoke an invitation that is still open. Commits."""
    _check_actor(actor)
    reason = check_reason(reason)
    invite = await session.get(StaffInvite, invite_id)
    if invite is None:
        raise NotFound("no such invitation")
    state = invite_state(invite)
    if state not in {"pending", "awaiting approval"}:
        raise InvalidInput(f"this invitation is already {state}")
    invite.revoked_at = utcnow()
    await _audit_invite(session, actor, "staff.invite_revoke", invite, reason)
    await session.commit()
    return invite


async def approve_invite(session: AsyncSession, *, actor: StaffUser, invite_id: int) -> StaffInvite:
    """A second admin approves an admin invitation or an admin's 2FA reset. Commits."""
    _check_actor(actor)
    invite = await session.get(StaffInvite, invite_id)
    if invite is None or invite_state(invite) != "awaiting approval":
        raise InvalidInput("this invitation does not wait for an approval")
    if invite.created_by == actor.id:
        raise InvalidInput("a second admin must approve this: you made the invitation")
    invite.approved_by = actor.id
    await _audit_invite(session, actor, "staff.invite_approve", invite, invite.reason)
    await session.commit()
    return invite


async def _audit_invite(
    session: AsyncSession, actor: StaffUser, action: str, invite: StaffInvite, reason: str
) -> None:
    await staff_action(
        session,
        actor,
        action,
        "staff_invite",
        str(invite.id),
        reason=reason or None,
        detail={"email": invite.email, "role": invite.role},
    )


async def list_invites(session: AsyncSession, *, limit: int = 50) -> list[tuple[StaffInvite, str]]:
    """The newest invitations with their state."""
    rows = await session.scalars(
        select(StaffInvite)
        .order_by(StaffInvite.created_at.desc(), StaffInvite.id.desc())
        .limit(limit)
    )
    now = utcnow()
    return [(invite, invite_state(invite, now=now)) for invite in rows]


async def pending_role_requests(session: AsyncSession) -> list[StaffRoleRequest]:
    """Grants of the admin role that wait for a second admin."""
    rows = await session.scalars(
        select(StaffRoleRequest)
        .where(StaffRoleRequest.status == "pending")
        .order_by(StaffRoleRequest.id)
    )
    return list(rows)
