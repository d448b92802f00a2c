"""Staff accounts: creation with an argon2id password hash."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.errors import InvalidInput
from core.passwords import hash_password as hash_off_loop
from core.roles import STAFF_ROLES, Role
from storage.models import StaffUser
from storage.repositories import StaffRepository

MIN_PASSWORD_LENGTH = 12
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password, on the calling thread (the CLI, tests)."""
    return _hasher.hash(password)


def validate_new_staff(*, email: str, role: str, password: str) -> Role:
    """Check the inputs of a new staff account; raise InvalidInput with a clear message."""
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"'{email}' is not an e-mail address")
    try:
        parsed = Role(role)
    except ValueError:
        allowed = ", ".join(sorted(STAFF_ROLES))
        raise InvalidInput(f"unknown staff role '{role}'; choose one of: {allowed}") from None
    if parsed not in STAFF_ROLES:
        raise InvalidInput(f"'{role}' is not a staff role (families and volunteers use the bot)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return parsed


async def add_staff_user(
    session: AsyncSession, *, email: str, role: str, password: str
) -> StaffUser:
    """Create a staff account and audit it; commits."""
    parsed = validate_new_staff(email=email, role=role, password=password)
    repo = StaffRepository(session)
    if await repo.get_by_email(email):
        raise InvalidInput(f"a staff account for {email} already exists")
    password_hash = await hash_off_loop(password)
    user = await repo.add(
        StaffUser(email=email.lower(), role=parsed.value, password_hash=password_hash)
    )
    await record(
        session,
        actor_role="cli",
        action="staff.create",
        object_type="staff_user",
        object_ref=str(user.id),
        detail={"role": parsed.value},
    )
    await session.commit()
    return user
