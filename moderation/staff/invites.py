"""One-time set-up links: the only way into a staff account. No default passwords, ever.

An invitation names a role and (except the first admin's) an e-mail, and expires (72 hours by
default). Opening it enrols TOTP, sets the password and checks a first code; the link is used
up in the same transaction that creates the account, so two people racing on one link make
one account. A 2FA reset is an invitation for an existing account. An invitation for the admin
role made while two or more admins are active waits for a second admin's approval.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record, staff_action
from core.delivery.outbox import enqueue
from core.errors import InvalidInput
from core.identity.passwords import hash_password
from core.identity.roles import Role
from core.identity.staff import EMAIL_RE, parse_staff_role, validate_password
from core.identity.vault import Vault
from moderation.staff.auth import matching_step, seal_totp, token_hash
from moderation.staff.recovery import new_recovery_codes
from storage.models import StaffInvite, StaffSession, StaffUser
from storage.repositories import StaffRepository
from storage.types import utcnow

DEFAULT_HOURS = 72
MAX_HOURS = 14 * 24
NOT_VALID = "This set-up link is not valid. Check that it was copied whole, or ask an admin."
STATE_TEXT = {
    "used": "This set-up link has already been used. Sign in, or ask an admin for a new one.",
    "expired": "This set-up link has expired. Ask an admin for a new one.",
    "revoked": "This set-up link was revoked by an admin. Ask an admin for a new one.",
    "awaiting approval": "This link for the admin role waits for a second admin's approval. "
    "Try again once they have approved it.",
}


class InviteRefused(InvalidInput):
    """An invitation that cannot be used (forged, used, expired, revoked or not approved)."""


@dataclass(frozen=True, slots=True)
class NewInvite:
    """A freshly made invitation and its token (shown once; only the hash is stored)."""

    invite: StaffInvite
    token: str


@dataclass(frozen=True, slots=True)
class InviteMail:
    """E-mail the link too (SMTP configured): sealed in the outbox row, opened at send time."""

    vault: Vault
    base_url: str


@dataclass(frozen=True, slots=True)
class Enrolled:
    """An account that finished enrolment, and its recovery codes (shown once)."""

    user: StaffUser
    recovery_codes: list[str]


def invite_state(invite: StaffInvite, *, now: datetime | None = None) -> str:
    """pending, awaiting approval, used, expired or revoked."""
    now = now or utcnow()
    if invite.used_at is not None:
        return "used"
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at <= now:
        return "expired"
    if invite.needs_approval and invite.approved_by is None:
        return "awaiting approval"
    return "pending"


async def active_admins(session: AsyncSession) -> int:
    """How many active admin accounts exist."""
    stmt = select(func.count(StaffUser.id)).where(
        StaffUser.role == Role.ADMIN.value, StaffUser.active.is_(True)
    )
    return int(await session.scalar(stmt) or 0)


def _hours(hours: int) -> timedelta:
    if not 1 <= hours <= MAX_HOURS:
        raise InvalidInput(f"an invitation lasts between 1 and {MAX_HOURS} hours")
    return timedelta(hours=hours)


async def _check_new_email(session: AsyncSession, email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"'{email}' is not an e-mail address")
    if await StaffRepository(session).get_by_email(email):
        raise InvalidInput(f"{email} already has a staff account")
    pending = await session.scalars(
        select(StaffInvite).where(
            func.lower(StaffInvite.email) == email, StaffInvite.staff_id.is_(None)
        )
    )
    if any(invite_state(i) in {"pending", "awaiting approval"} for i in pending):
        raise InvalidInput(f"{email} already has a pending invitation; revoke it first")
    return email


async def _stage(
    session: AsyncSession,
    *,
    role: Role,
    email: str | None,
    created_by: StaffUser | None,
    reason: str,
    hours: int,
    staff_id: int | None = None,
) -> NewInvite:
    token = secrets.token_urlsafe(32)
    needs_approval = (
        role is Role.ADMIN and created_by is not None and await active_admins(session) >= 2
    )
    invite = StaffInvite(
        token_hash=token_hash(token),
        role=role.value,
        email=email,
        expires_at=utcnow() + _hours(hours),
        created_by=created_by.id if created_by else None,
        reason=reason,
        staff_id=staff_id,
        needs_approval=needs_approval,
    )
    session.add(invite)
    await session.flush()
    return NewInvite(invite=invite, token=token)


async def create_invite(
    session: AsyncSession,
    *,
    role: str,
    email: str,
    created_by: StaffUser | None,
    reason: str = "",
    hours: int = DEFAULT_HOURS,
    mail: InviteMail | None = None,
) -> NewInvite:
    """A one-time set-up link for a new colleague (created_by None: the command line). Commits."""
    parsed = parse_staff_role(role)
    address = await _check_new_email(session, email)
    new = await _stage(
        session, role=parsed, email=address, created_by=created_by, reason=reason, hours=hours
    )
    if mail is not None:
        await enqueue_invite_mail(session, mail, new=new)
    await record(
        session,
        actor_id=created_by.id if created_by else None,
        actor_role=created_by.role if created_by else "cli",
        action="staff.invite",
        object_type="staff_invite",
        object_ref=str(new.invite.id),
        reason=reason or None,
        detail={
            "email": address,
            "role": parsed.value,
            "hours": hours,
            "needs_approval": new.invite.needs_approval,
        },
    )
    await session.commit()
    return new


async def enqueue_invite_mail(session: AsyncSession, mail: InviteMail, *, new: NewInvite) -> None:
    """An e-mail with the link, in the caller's transaction. The link is sealed with the vault:
    a database reader must not be able to take a live link out of the outbox."""
    invite = new.invite
    sealed = mail.vault.seal({"link": f"{mail.base_url}/setup/{new.token}"})
    await enqueue(
        session,
        channel="email",
        recipient=f"email:{invite.email}",
        payload={
            "kind": "staff_invite",
            "invite_id": invite.id,
            "role": invite.role,
            "expires_at": invite.expires_at.isoformat(timespec="minutes"),
            "sealed": base64.b64encode(sealed).decode(),
        },
        key=f"staff-invite:{invite.id}",
    )


async def reset_invite(
    session: AsyncSession, *, staff: StaffUser, created_by: StaffUser | None, reason: str
) -> NewInvite:
    """Stage a re-enrolment link for an existing account (the caller audits and commits)."""
    await revoke_pending_for(session, staff_id=staff.id)
    return await _stage(
        session,
        role=Role(staff.role),
        email=staff.email,
        created_by=created_by,
        reason=reason,
        hours=DEFAULT_HOURS,
        staff_id=staff.id,
    )


async def revoke_pending_for(session: AsyncSession, *, staff_id: int) -> None:
    """Revoke the account's earlier re-enrolment links that are still open."""
    await session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.staff_id == staff_id,
            StaffInvite.used_at.is_(None),
            StaffInvite.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def first_admin_invite(session: AsyncSession) -> str | None:
    """With no staff yet, a fresh first-admin link; earlier ones are revoked. Commits."""
    if await StaffRepository(session).count():
        return None
    await session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.created_by.is_(None),
            StaffInvite.staff_id.is_(None),
            StaffInvite.email.is_(None),
            StaffInvite.used_at.is_(None),
            StaffInvite.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    new = await _stage(
        session, role=Role.ADMIN, email=None, created_by=None, reason="first admin", hours=72
    )
    await record(
        session,
        actor_role="system",
        action="staff.invite",
        object_type="staff_invite",
        object_ref=str(new.invite.id),
        detail={"role": "admin", "first_admin": True},
    )
    await session.commit()
    return new.token


async def open_invite(session: AsyncSession, *, token: str) -> StaffInvite:
    """The invitation behind a token, if it can be used now; else InviteRefused saying why."""
    invite = await session.scalar(
        select(StaffInvite).where(StaffInvite.token_hash == token_hash(token))
    )
    if invite is None:
        raise InviteRefused(NOT_VALID)
    state = invite_state(invite)
    if state != "pending":
        raise InviteRefused(STATE_TEXT[state])
    return invite


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Tipline")


async def _claim(session: AsyncSession, invite: StaffInvite) -> None:
    """Use the link up; only one of several concurrent uses gets the row."""
    now = utcnow()
    claimed = await session.execute(
        update(StaffInvite)
        .where(
            StaffInvite.id == invite.id,
            StaffInvite.used_at.is_(None),
            StaffInvite.revoked_at.is_(None),
            StaffInvite.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteRefused(STATE_TEXT["used"])


async def _refuse(session: AsyncSession, invite_id: int, reason: str) -> InvalidInput:
    """Undo everything, then audit the failed attempt (nothing else changes)."""
    await session.rollback()
    await record(
        session,
        actor_role="anonymous",
        action="staff.setup_failed",
        object_type="staff_invite",
        object_ref=str(invite_id),
        detail={"reason": reason},
    )
    await session.commit()
    return InvalidInput(reason)


async def _account_for(
    session: AsyncSession, invite: StaffInvite, *, email: str, password_hash: str
) -> StaffUser:
    """The account the link enrols: the existing one of a 2FA reset, or a new one."""
    if invite.staff_id is not None:
        user = await session.get(StaffUser, invite.staff_id)
        if user is None or not user.active:
            raise InvalidInput("this account is deactivated; ask an admin")
        user.password_hash = password_hash
        return user
    email = (email.strip() or invite.email or "").lower()
    if invite.email and invite.email.lower() != email:
        raise InvalidInput(f"this set-up link is for {invite.email}")
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"'{email}' is not an e-mail address")
    if await StaffRepository(session).get_by_email(email):
        raise InvalidInput(f"{email} already has a staff account; sign in instead")
    user = StaffUser(email=email, role=invite.role, password_hash=password_hash)
    session.add(user)
    return user


async def accept_invite(
    session: AsyncSession,
    vault: Vault,
    *,
    token: str,
    email: str,
    password: str,
    totp_secret: str,
    code: str,
) -> Enrolled:
    """Enrol: password, TOTP (proven by a first code) and recovery codes, once. Commits."""
    invite = await open_invite(session, token=token)
    invite_id = invite.id
    try:
        validate_password(password)
        step = matching_step(totp_secret, code, utcnow())
        if step is None:
            raise InvalidInput("that code does not match; check the authenticator app's clock")
        password_hash = await hash_password(password)  # argon2 off the event loop
        await _claim(session, invite)
        user = await _account_for(session, invite, email=email, password_hash=password_hash)
        user.totp_secret = seal_totp(vault, totp_secret)
        user.totp_last_step = step
        await session.flush()
    except InviteRefused:
        await session.rollback()
        raise
    except IntegrityError:  # the same e-mail enrolled through another link at the same moment
        raise await _refuse(session, invite_id, f"{email} already has a staff account") from None
    except InvalidInput as exc:
        raise await _refuse(session, invite_id, str(exc)) from None
    codes = await new_recovery_codes(session, staff_id=user.id)
    await _finish(session, invite, user)
    return Enrolled(user=user, recovery_codes=codes)


async def _finish(session: AsyncSession, invite: StaffInvite, user: StaffUser) -> None:
    invite.used_by = user.id
    reset = invite.staff_id is not None
    if reset:  # a new second factor: whoever held the old one is signed out
        await session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == user.id, StaffSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    await staff_action(
        session,
        user,
        "staff.2fa_reenrolled" if reset else "staff.setup",
        "staff_user",
        str(user.id),
        detail={"invite": invite.id, "role": user.role},
    )
    await session.commit()


async def invite_mail(
    session: AsyncSession, vault: Vault, payload: dict[str, Any]
) -> tuple[str, str] | None:
    """(subject, text) of a queued invitation e-mail; None once the link cannot be used."""
    invite = await session.get(StaffInvite, int(payload.get("invite_id") or 0))
    if invite is None or invite_state(invite) not in {"pending", "awaiting approval"}:
        return None
    link = str(vault.open(base64.b64decode(str(payload["sealed"])))["link"])
    role = invite.role.replace("_", " ")
    what = "reset your two-factor sign-in" if invite.staff_id else f"join Tipline as {role}"
    text = (
        f"You are invited to {what}.\n\n"
        f"Open this one-time link before {invite.expires_at:%Y-%m-%d %H:%M} UTC:\n{link}\n\n"
        "It sets up an authenticator app (TOTP), your password and ten recovery codes.\n"
        "Nobody at Tipline will ever ask you for a code. If you did not expect this, ignore it."
    )
    return f"Tipline: {what}", text
