"""Recovery codes: ten one-time codes shown once at enrolment, each standing in for a TOTP code.

A code has 80 random bits, so a SHA-256 of it is enough at rest (nobody can search 2^80 codes);
it is used up by one UPDATE, so two sign-ins racing with the same code get one success.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StaffRecoveryCode
from storage.types import utcnow

COUNT = 10
# No 0/O or 1/I: the codes are printed or written down and typed back.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_LENGTH = 16  # 16 characters of 32: 80 bits


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _hash(code: str) -> str:
    return hashlib.sha256(f"tipline-recovery:{_normal(code)}".encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    """Whether typed text has the shape of a recovery code (not a six-digit TOTP code)."""
    normal = _normal(code)
    return len(normal) == _LENGTH and all(c in _ALPHABET for c in normal)


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))


async def new_recovery_codes(session: AsyncSession, *, staff_id: int) -> list[str]:
    """Replace an account's recovery codes with ten fresh ones (the caller commits)."""
    await session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff_id))
    codes = [_new_code() for _ in range(COUNT)]
    session.add_all(StaffRecoveryCode(staff_id=staff_id, code_hash=_hash(c)) for c in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, *, staff_id: int, code: str) -> bool:
    """Use up one of the account's unused codes (the caller commits); False when none matches."""
    if not looks_like_recovery_code(code):
        return False
    used = await session.execute(
        update(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.staff_id == staff_id,
            StaffRecoveryCode.code_hash == _hash(code),
            StaffRecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]


async def codes_left(session: AsyncSession, *, staff_id: int) -> int:
    """How many unused recovery codes an account has."""
    stmt = select(func.count(StaffRecoveryCode.id)).where(
        StaffRecoveryCode.staff_id == staff_id, StaffRecoveryCode.used_at.is_(None)
    )
    return int(await session.scalar(stmt) or 0)
