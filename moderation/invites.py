"""One-time set-up links: no default passwords, ever. The first admin gets one at first start."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.errors import InvalidInput
from core.staff import hash_password, validate_new_staff
from core.vault import Vault
from moderation.auth import check_totp, seal_totp, token_hash
from storage.models import StaffInvite, StaffUser
from storage.repositories import StaffRepository
from storage.types import utcnow

INVITE_TTL = timedelta(hours=48)


async def create_invite(
    session: AsyncSession, *, role: str, email: str | None, created_by: StaffUser | None
) -> str:
    """A one-time set-up token for a new staff member. Commits."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffInvite(
            token_hash=token_hash(token), role=role, email=email, expires_at=utcnow() + INVITE_TTL
        )
    )
    await record(
        session,
        actor_id=created_by.id if created_by else None,
        actor_role=created_by.role if created_by else "system",
        action="staff.invite",
        object_type="staff_invite",
        object_ref=role,
        detail={"email": email},
    )
    await session.commit()
    return token


async def first_admin_invite(session: AsyncSession) -> str | None:
    """A set-up token for the first admin when there are no staff yet (else None). Commits."""
    if await StaffRepository(session).count():
        return None
    return await create_invite(session, role="admin", email=None, created_by=None)


async def open_invite(session: AsyncSession, *, token: str) -> StaffInvite:
    """The invite behind a token, if it is unused and unexpired."""
    invite = await session.scalar(
        select(StaffInvite).where(StaffInvite.token_hash == token_hash(token))
    )
    if invite is None or invite.used_at is not None or invite.expires_at < utcnow():
        raise InvalidInput("this set-up link is not valid any more; ask an admin for a new one")
    return invite


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Tipline")


async def accept_invite(
    session: AsyncSession,
    vault: Vault,
    *,
    token: str,
    email: str,
    password: str,
    totp_secret: str,
    code: str,
) -> StaffUser:
    """Create the account once the new member proves their authenticator works. Commits."""
    invite = await open_invite(session, token=token)
    if invite.email and invite.email.lower() != email.lower():
        raise InvalidInput("this set-up link is for another e-mail address")
    validate_new_staff(email=email, role=invite.role, password=password)
    if await StaffRepository(session).get_by_email(email):
        raise InvalidInput(f"a staff account for {email} already exists")
    user = StaffUser(
        email=email.lower(),
        role=invite.role,
        password_hash=hash_password(password),
        totp_secret=seal_totp(vault, totp_secret),
    )
    if not check_totp(vault, user, code, now=utcnow()):
        raise InvalidInput("that code does not match; check the authenticator app's clock")
    await StaffRepository(session).add(user)
    invite.used_at = utcnow()
    await record(
        session,
        actor_id=user.id,
        actor_role=user.role,
        action="staff.setup",
        object_type="staff_user",
        object_ref=str(user.id),
    )
    await session.commit()
    return user
