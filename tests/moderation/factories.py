"""Small builders for moderation tests."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.staff import hash_password
from storage.models import StaffUser, Tip, Tipster

_PASSWORD_HASH = hash_password("a long test passphrase")


async def staff(
    session: AsyncSession, role: str = "moderator", email: str | None = None
) -> StaffUser:
    """A staff member (password 'a long test passphrase', no TOTP)."""
    user = StaffUser(
        email=email or f"{role}-{secrets.token_hex(6)}@example.org",
        role=role,
        password_hash=_PASSWORD_HASH,
    )
    session.add(user)
    await session.commit()
    return user


async def tip(
    session: AsyncSession,
    *,
    score: float = 0.0,
    text: str = "a child in a red coat",
    tipster: Tipster | None = None,
    contact: bool = True,
    **values: object,
) -> Tip:
    """An open tip."""
    row = Tip(
        channel="telegram",
        text=text,
        score=score,
        contact_allowed=contact,
        tipster_id=tipster.id if tipster else None,
        **values,
    )
    session.add(row)
    await session.commit()
    return row


async def tipster(session: AsyncSession, language: str = "en") -> Tipster:
    """A pseudonymous tipster."""
    row = Tipster(pseudonym=f"T-{secrets.token_hex(6)}", language=language)
    session.add(row)
    await session.commit()
    return row
