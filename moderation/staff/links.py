"""Staff in Telegram: linking an account to a Telegram user, and what their button presses do.

The dashboard shows a one-time code (create_link_code); the staff member sends `/link CODE` to
the bot, privately or in the moderators' group (link_telegram). Telegram vouches for the user id
of whoever sent it; the code vouches for the account. Only a hash of the code is stored.

A press (press_button) is checked from scratch every time: the token must be a live button of
a card, the presser a linked active account whose role may decide (the policy), and the
decision itself has one effect however often it is pressed, here or on the web.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, RateLimited
from core.limits import RateLimiter
from moderation.cases.cards import BUTTON_ACTIONS
from moderation.policy import can, require
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from moderation.review.queue import ClaimConflict
from storage.models import CallbackToken, Decision, StaffUser, Tip
from storage.types import utcnow

LINK_TTL = timedelta(minutes=10)
LINK_ATTEMPTS = (5, 900.0)  # per Telegram user: 5 codes in 15 minutes
# No 0/O or 1/I: the code is read off a screen and typed on a phone.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 10  # 50 bits, alive for ten minutes, five tries per quarter hour
_ACTION = "staff.link:"
INVALID_CODE = "this code is not valid; make a new one in the dashboard"
NOTE = "decided in the moderators' Telegram group"
log = logging.getLogger("tipline.moderation")


def _hash(code: str) -> str:
    # callback_tokens.token is 32 characters: half a SHA-256 is plenty for a ten-minute code.
    normal = "".join(code.split()).replace("-", "").upper()
    return hashlib.sha256(f"tipline-link:{normal}".encode()).hexdigest()[:32]


def label_of(staff: StaffUser) -> str:
    """How the moderators' group names a colleague: their e-mail's local part, else their role."""
    local = staff.email.partition("@")[0]
    return local or staff.role


async def create_link_code(session: AsyncSession, *, staff: StaffUser) -> str:
    """A one-time code (ten minutes) to send to the bot as /link CODE; replaces older. Commits."""
    require(staff, "account.self", "only an active staff account can be linked")
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    action = f"{_ACTION}{staff.id}"
    await session.execute(delete(CallbackToken).where(CallbackToken.action == action))
    session.add(
        CallbackToken(token=_hash(raw), action=action, tip_id=None, expires_at=utcnow() + LINK_TTL)
    )
    await staff_action(session, staff, "staff.telegram_link_code", "staff_user", str(staff.id))
    await session.commit()
    return f"{raw[:5]}-{raw[5:]}"


async def _consume(session: AsyncSession, code: str) -> int:
    """The staff id behind a live code, which is used up (one-time) in the same transaction."""
    token = _hash(code)
    row = await session.scalar(select(CallbackToken).where(CallbackToken.token == token))
    if row is None or not row.action.startswith(_ACTION) or row.expires_at <= utcnow():
        raise InvalidInput(INVALID_CODE)
    staff_id = int(row.action.removeprefix(_ACTION))
    gone = await session.execute(
        delete(CallbackToken)
        .where(CallbackToken.token == token)
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:  # type: ignore[attr-defined]  # a concurrent /link used it first
        raise InvalidInput(INVALID_CODE)
    return staff_id


async def link_telegram(
    session: AsyncSession, *, code: str, telegram_user_id: int, limiter: RateLimiter
) -> StaffUser:
    """Link the Telegram user who sent /link CODE to the code's staff account. Commits."""
    limit, window = LINK_ATTEMPTS
    if not await limiter.hit(f"link:{telegram_user_id}", limit=limit, window=window):
        raise RateLimited("too many codes tried; wait 15 minutes")
    if not code.strip():
        raise InvalidInput(INVALID_CODE)
    staff_id = await _consume(session, code)
    staff = await session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise InvalidInput(INVALID_CODE)
    # One Telegram user presses for one account: a link elsewhere moves here.
    await session.execute(
        update(StaffUser)
        .where(StaffUser.telegram_user_id == telegram_user_id, StaffUser.id != staff.id)
        .values(telegram_user_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id)
        .values(telegram_user_id=telegram_user_id)
        .execution_options(synchronize_session=False)
    )
    await staff_action(
        session,
        staff,
        "staff.telegram_linked",
        "staff_user",
        str(staff.id),
        detail={"telegram_user_id": telegram_user_id},
    )
    await session.commit()
    await session.refresh(staff)
    return staff


async def unlink_telegram(session: AsyncSession, *, staff: StaffUser) -> None:
    """Forget the Telegram user of an account (their presses stop counting at once). Commits."""
    await session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id)
        .values(telegram_user_id=None)
        .execution_options(synchronize_session=False)
    )
    await staff_action(session, staff, "staff.telegram_unlinked", "staff_user", str(staff.id))
    await session.commit()


async def staff_for_telegram(session: AsyncSession, *, telegram_user_id: int) -> StaffUser | None:
    """The active staff account a Telegram user is linked to, if any."""
    return await session.scalar(
        select(StaffUser).where(
            StaffUser.telegram_user_id == telegram_user_id, StaffUser.active.is_(True)
        )
    )


# --- presses -------------------------------------------------------------------------------------


class ButtonInvalid(Exception):
    """Unknown, expired or forged button data: nothing changes."""


class NotLinked(Exception):
    """The presser's Telegram account is not linked to an active staff account."""


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a press came to: decided now, already decided, a colleague holds it, or use the web."""

    kind: Literal["decided", "already", "busy", "dashboard"]
    tip_ref: str
    status: str
    by: str = ""


async def _token(session: AsyncSession, token: str, telegram_user_id: int) -> CallbackToken:
    row = await session.get(CallbackToken, token) if 0 < len(token) <= 32 else None
    if row is None or row.action not in BUTTON_ACTIONS or row.tip_id is None:
        log.warning(
            "refused a moderator button: unknown token (telegram user %s)", telegram_user_id
        )
        raise ButtonInvalid(token)
    if row.expires_at <= utcnow():
        log.warning(
            "refused a moderator button: expired token (telegram user %s)", telegram_user_id
        )
        raise ButtonInvalid(token)
    return row


async def _who_decided(session: AsyncSession, tip_id: int) -> str:
    row = await session.execute(
        select(StaffUser)
        .join(Decision, Decision.staff_id == StaffUser.id)
        .where(Decision.tip_id == tip_id)
        .order_by(Decision.id.desc())
        .limit(1)
    )
    staff = row.scalar()
    return label_of(staff) if staff else ""


async def press_button(session: AsyncSession, *, token: str, telegram_user_id: int) -> Pressed:
    """Resolve a press, authorise the linked staff member again, decide once. May commit."""
    row = await _token(session, token, telegram_user_id)
    action, tip_id = row.action, int(row.tip_id or 0)
    staff = await staff_for_telegram(session, telegram_user_id=telegram_user_id)
    if staff is None:
        log.info("refused a moderator button: telegram user %s is not linked", telegram_user_id)
        raise NotLinked
    if not can(staff.role, "tip.decide"):
        log.warning(
            "refused a moderator button: staff %s (%s) may not decide", staff.id, staff.role
        )
        raise PermissionError("your role may not decide tips")
    tip = await session.get(Tip, tip_id)
    if tip is None:
        raise ButtonInvalid(token)
    ref, who = tip.ref, label_of(staff)
    if action == "needs_info":  # the question for the tipster is written in the dashboard
        return Pressed("dashboard", ref, tip.status)
    try:
        await decide(session, staff=staff, tip_ref=ref, outcome=Outcome(action), note=NOTE)
    except (AlreadyDecided, ClaimConflict) as exc:
        await session.rollback()
        current = await session.get(Tip, tip_id)
        status = current.status if current else ""
        if isinstance(exc, ClaimConflict):
            return Pressed("busy", ref, status)
        return Pressed("already", ref, status, await _who_decided(session, tip_id))
    return Pressed("decided", ref, action, who)
