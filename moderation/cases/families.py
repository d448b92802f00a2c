"""Families: one-time link codes, linking a Telegram user to a case, vetted leads, feedback, mute.

A senior moderator makes a code for a case (create_family_link); the family opens
t.me/<bot>?start=family_<CODE> and the bot links that person (link_family) as a `family`
subscription. A family member is a pseudonymous person like any tipster: their chat id stays in
the vault and leads reach them as `tipster:<id>` outbox rows. A lead carries only what a
moderator wrote or approved (family_lead_notice); the one-tap answer comes back through
record_feedback.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record, staff_action
from core.errors import InvalidInput, NotFound, RateLimited
from core.identity.roles import Role
from core.limits import RateLimiter
from moderation.forwarding.family_leads import FAMILY, send_earlier_leads
from moderation.policy import require
from storage.models import (
    Case,
    FamilyFeedback,
    FamilyLink,
    Forward,
    StaffUser,
    Subscription,
    Tip,
    Tipster,
)
from storage.refs import normalise_ref
from storage.types import utcnow

LINK_TTL = timedelta(hours=72)
LINK_ATTEMPTS = (5, 900.0)  # per person: five codes in fifteen minutes
DEEP_LINK_PREFIX = "family_"
# No 0/O or 1/I: the code may be read aloud over the phone to a parent.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 16  # 80 bits
ANSWERS = ("mine", "not_mine", "unsure")


@dataclass(frozen=True, slots=True)
class FamilyCode:
    """A fresh code, shown once to the senior moderator who made it."""

    code: str
    case_ref: str
    expires_at: datetime

    @property
    def start_payload(self) -> str:
        """What follows /start: family_<CODE> (letters, digits and _ as deep links allow)."""
        return f"{DEEP_LINK_PREFIX}{self.code}"


@dataclass(frozen=True, slots=True)
class Linked:
    """A family member linked to a case."""

    subscription_id: int
    case_ref: str
    case_name: str
    already: bool


def _hash(code: str) -> str:
    normal = "".join(code.split()).replace("-", "").upper()
    return hashlib.sha256(f"tipline-family:{normal}".encode()).hexdigest()


async def create_family_link(
    session: AsyncSession, *, staff: StaffUser, case_ref: str
) -> FamilyCode:
    """A one-time code (72 hours) that links one family member to the case. Commits."""
    require(staff, "case.manage", "only a senior moderator may link a family to a case")
    case = await session.scalar(select(Case).where(Case.ref == normalise_ref(case_ref)))
    if case is None:
        raise NotFound("no such case")
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    expires_at = utcnow() + LINK_TTL
    link = FamilyLink(
        code_hash=_hash(code), case_id=case.id, created_by=staff.id, expires_at=expires_at
    )
    session.add(link)
    await session.flush()
    await staff_action(
        session,
        staff,
        "family.link_created",
        "case",
        case.ref,
        detail={"link_id": link.id, "expires_at": expires_at.isoformat()},
    )
    await session.commit()
    return FamilyCode(code=code, case_ref=case.ref, expires_at=expires_at)


async def link_family(
    session: AsyncSession, *, tipster: Tipster, code: str, limiter: RateLimiter
) -> Linked:
    """Use up a code: the person becomes a family member of its case. Commits; audited."""
    if not await limiter.hit(
        f"family-link:{tipster.id}", limit=LINK_ATTEMPTS[0], window=LINK_ATTEMPTS[1]
    ):
        raise RateLimited("too many codes tried; wait a quarter of an hour")
    now = utcnow()
    claimed = await session.execute(
        update(FamilyLink)
        .where(
            FamilyLink.code_hash == _hash(code),
            FamilyLink.used_at.is_(None),
            FamilyLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(FamilyLink.id, FamilyLink.case_id)
        .execution_options(synchronize_session=False)
    )
    row = claimed.first()
    if row is None:
        raise InvalidInput("this family code is not valid or was already used")
    link_id, case_id = row
    case = await session.get(Case, case_id)
    assert case is not None  # the foreign key cascades
    subscription = await session.scalar(
        select(Subscription).where(
            Subscription.kind == FAMILY,
            Subscription.case_id == case_id,
            Subscription.tipster_id == tipster.id,
        )
    )
    already = subscription is not None
    if subscription is None:
        subscription = Subscription(
            kind=FAMILY, tipster_id=tipster.id, case_id=case_id, language=tipster.language
        )
        session.add(subscription)
        await session.flush()
    subscription.paused = False
    await session.execute(
        update(FamilyLink).where(FamilyLink.id == link_id).values(subscription_id=subscription.id)
    )
    earlier = await send_earlier_leads(session, subscription=subscription)
    await _audit_family(
        session, "family.linked", case.ref, subscription.id, link_id=link_id, earlier_leads=earlier
    )
    await session.commit()
    return Linked(
        subscription_id=subscription.id,
        case_ref=case.ref,
        case_name=case.full_name,
        already=already,
    )


async def _audit_family(
    session: AsyncSession, action: str, case_ref: str, subscription_id: int, **detail: Any
) -> None:
    await record(
        session,
        actor_role=Role.FAMILY.value,
        action=action,
        object_type="case",
        object_ref=case_ref,
        detail={"subscription_id": subscription_id, **detail},
    )


async def family_subscriptions(session: AsyncSession, *, tipster_id: int) -> Sequence[Subscription]:
    """The cases this person is linked to as family."""
    stmt = select(Subscription).where(
        Subscription.kind == FAMILY, Subscription.tipster_id == tipster_id
    )
    return (await session.scalars(stmt.order_by(Subscription.id))).all()


async def set_muted(session: AsyncSession, *, tipster: Tipster, muted: bool) -> int:
    """/mute or /unmute every family link of this person; how many links. Unmuting sends the
    leads passed on while muted. Commits; audited."""
    subscriptions = await family_subscriptions(session, tipster_id=tipster.id)
    for subscription in subscriptions:
        subscription.paused = muted
        case = await session.get(Case, subscription.case_id)
        action = "family.muted" if muted else "family.unmuted"
        earlier = 0 if muted else await send_earlier_leads(session, subscription=subscription)
        detail = {} if muted else {"earlier_leads": earlier}
        await _audit_family(session, action, case.ref if case else "-", subscription.id, **detail)
    await session.commit()
    return len(subscriptions)


# --- feedback ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feedback:
    """A recorded answer, and the lead it is about."""

    forward_id: int
    tip_id: int
    case_ref: str
    answer: str
    changed: bool


async def lead_of_member(
    session: AsyncSession, *, tipster: Tipster, forward_id: int
) -> tuple[Forward, Subscription]:
    """A family lead and this person's link to its case; NotFound for anyone not linked (the
    same answer as for a lead that does not exist)."""
    forward = await session.get(Forward, forward_id)
    if forward is None or forward.audience != FAMILY or forward.case_id is None:
        raise NotFound("no such lead")
    subscription = await session.scalar(
        select(Subscription).where(
            Subscription.kind == FAMILY,
            Subscription.case_id == forward.case_id,
            Subscription.tipster_id == tipster.id,
        )
    )
    if subscription is None:
        raise NotFound("no such lead")
    return forward, subscription


async def record_feedback(
    session: AsyncSession, *, tipster: Tipster, forward_id: int, answer: str
) -> Feedback:
    """Keep a family member's answer on the lead and its tip (latest answer counts). Never
    commits: the caller adds its own messages and commits. NotFound for anyone not linked."""
    if answer not in ANSWERS:
        raise InvalidInput("unknown answer")
    forward, subscription = await lead_of_member(session, tipster=tipster, forward_id=forward_id)
    existing = await session.scalar(
        select(FamilyFeedback).where(
            FamilyFeedback.forward_id == forward.id,
            FamilyFeedback.subscription_id == subscription.id,
        )
    )
    changed = existing is None or existing.answer != answer
    if existing is None:
        session.add(
            FamilyFeedback(forward_id=forward.id, subscription_id=subscription.id, answer=answer)
        )
    elif changed:
        existing.answer, existing.at = answer, utcnow()
    await session.flush()
    case = await session.get(Case, forward.case_id)
    case_ref = case.ref if case else "-"
    if changed:
        await _keep_on_tip(session, forward)
        await _audit_family(
            session,
            "family.feedback",
            case_ref,
            subscription.id,
            forward_id=forward.id,
            answer=answer,
        )
    return Feedback(
        forward_id=forward.id,
        tip_id=forward.tip_id,
        case_ref=case_ref,
        answer=answer,
        changed=changed,
    )


async def feedback_counts(session: AsyncSession, *, forward_id: int) -> dict[str, int]:
    """How many family members answered what about one lead."""
    rows = await session.execute(
        select(FamilyFeedback.answer, func.count())
        .where(FamilyFeedback.forward_id == forward_id)
        .group_by(FamilyFeedback.answer)
    )
    counts = dict.fromkeys(ANSWERS, 0)
    counts.update({answer: int(count) for answer, count in rows.all()})
    return counts


async def _keep_on_tip(session: AsyncSession, forward: Forward) -> None:
    """tips.details["family_feedback"]: the counts, for staff and for the evidence worker."""
    tip = await session.get(Tip, forward.tip_id)
    if tip is None:
        return
    counts = await feedback_counts(session, forward_id=forward.id)
    details = dict(tip.details or {})
    details["family_feedback"] = {**counts, "updated_at": utcnow().isoformat()}
    tip.details = details


async def pending_links(session: AsyncSession, *, case_id: int) -> int:
    """Codes made for the case that are neither used nor expired."""
    stmt = select(func.count(FamilyLink.id)).where(
        FamilyLink.case_id == case_id,
        FamilyLink.used_at.is_(None),
        FamilyLink.expires_at > utcnow(),
    )
    return int(await session.scalar(stmt) or 0)
