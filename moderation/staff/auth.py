"""Staff sign-in: argon2id password, TOTP second factor, server-side sessions, throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record, staff_action
from core.errors import InvalidInput, RateLimited
from core.identity.passwords import verify_password
from core.identity.vault import Vault
from core.limits import SIGN_IN_BACKOFF, RateLimiter, account_key, check_backoff
from moderation.staff.recovery import use_recovery_code
from storage.models import StaffSession, StaffUser
from storage.repositories import StaffRepository
from storage.types import utcnow

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
PENDING_TIMEOUT = timedelta(minutes=5)
TOUCH_EVERY = timedelta(seconds=60)
ACCOUNT_ATTEMPTS = (5, 900.0)  # per account and address: 5 tries in 15 minutes
ADDRESS_ATTEMPTS = (30, 900.0)  # per address, across accounts
SIGN_IN_FAILED = "e-mail, password or code not recognised"


@dataclass(frozen=True, slots=True)
class Signed:
    """A session token handed to the browser (only its hash is stored) and its staff member."""

    token: str
    user: StaffUser


def token_hash(token: str) -> str:
    """What is stored for a session or invite token."""
    return hashlib.sha256(token.encode()).hexdigest()


def seal_totp(vault: Vault, secret: str) -> bytes:
    """Encrypt a TOTP secret for the staff_users table."""
    return vault.seal({"totp": secret})


def _attempt_keys(email: str, address: str) -> tuple[str, str]:
    # Per account+address, so an attacker elsewhere cannot lock a colleague out; and per address.
    return f"login:{email.lower()}:{address}", f"login-addr:{address}"


async def _throttle(limiter: RateLimiter, *, email: str, address: str) -> None:
    """Count the attempt before it is checked (so a burst of guesses is counted as it comes);
    a step that succeeds gives its count back (_succeeded): only failures add up."""
    account, anywhere = _attempt_keys(email, address)
    limit, window = ACCOUNT_ATTEMPTS
    if not await limiter.hit(account, limit=limit, window=window):
        raise RateLimited("too many sign-in attempts; wait 15 minutes")
    limit, window = ADDRESS_ATTEMPTS
    if not await limiter.hit(anywhere, limit=limit, window=window):
        await limiter.refund(account)  # refused before it was tried: not an attempt
        raise RateLimited("too many sign-in attempts from this address; wait 15 minutes")
    try:
        await check_backoff(limiter, email=email)
    except RateLimited:
        await _succeeded(limiter, email=email, address=address)
        raise


async def _succeeded(limiter: RateLimiter, *, email: str, address: str) -> None:
    """Give back the counts of an attempt that was not a failure."""
    for key in _attempt_keys(email, address):
        await limiter.refund(key)


async def _password_ok(user: StaffUser | None, password: str) -> bool:
    ok = await verify_password(user.password_hash if user else None, password)
    return ok and user is not None and user.active


async def begin_sign_in(
    session: AsyncSession, *, email: str, password: str, address: str, limiter: RateLimiter
) -> Signed:
    """Check the password; return a session that can only finish signing in. Commits."""
    await _throttle(limiter, email=email, address=address)
    user = await StaffRepository(session).get_by_email(email)
    if not await _password_ok(user, password) or user is None:
        await limiter.failed(account_key(email), policy=SIGN_IN_BACKOFF)
        await record(
            session,
            actor_role="anonymous",
            action="signin.failed",
            object_type="staff_user",
            object_ref=email.lower()[:64],
            detail={"address": address, "step": "password"},
        )
        await session.commit()
        raise InvalidInput(SIGN_IN_FAILED)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=token_hash(token), staff_id=user.id, verified=False))
    await session.commit()
    await _succeeded(limiter, email=email, address=address)
    return Signed(token=token, user=user)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time-step (now, or one either side) whose code matches; None when none does."""
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code.strip()):
            return candidate
    return None


def check_totp(vault: Vault, user: StaffUser, code: str, *, now: datetime) -> bool:
    """Accept a current code once: a code (time-step) used before is refused."""
    if user.totp_secret is None:
        return False
    secret = str(vault.open(user.totp_secret)["totp"])
    step = matching_step(secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


async def _second_factor(
    session: AsyncSession, vault: Vault, user: StaffUser | None, code: str, *, now: datetime
) -> str | None:
    """Which second factor the code is ("totp" or "recovery_code"); None when it is neither."""
    if user is None or not user.active:
        return None
    if check_totp(vault, user, code, now=now):
        return "totp"
    if user.totp_secret is not None and await use_recovery_code(
        session, staff_id=user.id, code=code
    ):
        return "recovery_code"
    return None


async def _open_session(
    session: AsyncSession, token: str, *, verified: bool
) -> StaffSession | None:
    """The session not yet ended that this token opens, at this stage (signed in or pending)."""
    return await session.scalar(
        select(StaffSession).where(
            StaffSession.token_hash == token_hash(token),
            StaffSession.verified.is_(verified),
            StaffSession.ended_at.is_(None),
        )
    )


async def finish_sign_in(
    session: AsyncSession,
    vault: Vault,
    *,
    pending_token: str,
    code: str,
    address: str,
    limiter: RateLimiter,
) -> Signed:
    """Check the second factor; end the pending session and start a new one (new id). Commits."""
    now = utcnow()
    pending = await _open_session(session, pending_token, verified=False)
    if pending is None or now - pending.created_at > PENDING_TIMEOUT:
        raise InvalidInput("the sign-in took too long; start again")
    user = await session.get(StaffUser, pending.staff_id)
    await _throttle(limiter, email=user.email if user else "?", address=address)
    method = await _second_factor(session, vault, user, code, now=now)
    if user is None or method is None:
        if user is not None:
            await limiter.failed(account_key(user.email), policy=SIGN_IN_BACKOFF)
        await record(
            session,
            actor_role="anonymous",
            action="signin.failed",
            object_type="staff_user",
            object_ref=str(pending.staff_id),
            detail={"address": address, "step": "totp"},
        )
        await session.commit()
        raise InvalidInput(SIGN_IN_FAILED)
    pending.ended_at = now
    user.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=token_hash(token), staff_id=user.id, verified=True))
    await staff_action(
        session,
        user,
        "signin" if method == "totp" else "signin.recovery_code",
        "staff_user",
        str(user.id),
        detail={"address": address, "second_factor": method},
    )
    await session.commit()
    # Signed in: this step's counts go back and the account's back-off starts again from none.
    await _succeeded(limiter, email=user.email, address=address)
    await limiter.cleared(account_key(user.email))
    return Signed(token=token, user=user)


async def resolve(session: AsyncSession, *, token: str) -> StaffUser | None:
    """The staff member behind a verified, unexpired session token; touches it. May commit."""
    now = utcnow()
    row = await _open_session(session, token, verified=True)
    if row is None:
        return None
    if now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT:
        row.ended_at = now
        await session.commit()
        return None
    user = await session.get(StaffUser, row.staff_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        await session.commit()
    return user


async def sign_out(session: AsyncSession, *, token: str) -> None:
    """End a session. Commits."""
    await session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == token_hash(token), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    await session.commit()
