"""Decisions on tips: one effect each, audited, with the tipster's messages in the same commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.delivery.people import notice_of, tell
from core.errors import InvalidInput, NotFound
from core.i18n import Texts
from core.tips.submission import PUBLIC_STATUS
from moderation.forwarding.forward import FamilyLead, check_family_lead, forward_on_decision
from moderation.policy import require
from moderation.review.queue import OPEN_STATUSES, ClaimConflict
from storage.models import Decision, StaffUser, Tip, Tipster
from storage.repositories import TipRepository
from storage.types import utcnow

MAX_NOTE = 4000


class Outcome(StrEnum):
    """What a moderator can decide about a tip."""

    PROMISING = "promising"
    NEEDS_INFO = "needs_info"
    DUPLICATE = "duplicate"
    NOT_RELEVANT = "not_relevant"
    SPAM = "spam"
    URGENT = "urgent"


class AlreadyDecided(Exception):
    """The tip was decided meanwhile (on the web or in Telegram); nothing changed."""


@dataclass(frozen=True, slots=True)
class Decided:
    """The result of a decision."""

    tip_ref: str
    outcome: Outcome
    decision_id: int


def _check(staff: StaffUser, outcome: Outcome, *, question: str, duplicate_of: str | None) -> None:
    require(staff, "tip.decide", "your role may not decide tips")
    if outcome is Outcome.NEEDS_INFO and not question.strip():
        raise InvalidInput("write the question for the tipster")
    if outcome is Outcome.DUPLICATE and not duplicate_of:
        raise InvalidInput("name the tip this one duplicates")
    if len(question) > MAX_NOTE:
        raise InvalidInput(f"keep it under {MAX_NOTE} characters")


async def _transition(session: AsyncSession, tip: Tip, staff: StaffUser, outcome: Outcome) -> None:
    now = utcnow()
    open_claim = or_(
        Tip.claimed_by.is_(None), Tip.claimed_by == staff.id, Tip.claim_expires_at < now
    )
    # Any decision reads the answer (it leaves "answered"); a question makes its asker the one
    # whose badge counts the next answer.
    values: dict[str, object] = {"status": outcome.value, "updated_at": now, "answered": False}
    if outcome is Outcome.NEEDS_INFO:
        values["asked_by"] = staff.id
    else:
        values.update(claimed_by=None, claim_expires_at=None)
    if outcome is Outcome.URGENT:
        values["urgent"] = True
    result = await session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.status.in_(OPEN_STATUSES), open_claim)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    await session.refresh(tip)
    if tip.status not in OPEN_STATUSES:
        raise AlreadyDecided(f"tip {tip.ref} was already decided ({tip.status})")
    raise ClaimConflict("another moderator is reviewing this tip")


async def decide(
    session: AsyncSession,
    *,
    staff: StaffUser,
    tip_ref: str,
    outcome: Outcome,
    note: str = "",
    question: str = "",
    duplicate_of: str | None = None,
    family: FamilyLead | None = None,
) -> Decided:
    """Decide a tip once: status, audit, tipster record and messages commit together.

    A promising or urgent lead is forwarded in the same commit (moderation/forwarding/forward.py):
    police packets, on-call pages, and the family lead when `family` carries its summary."""
    _check(staff, outcome, question=question, duplicate_of=duplicate_of)
    tip = await TipRepository(session).get_by_ref(tip_ref)
    if tip is None:
        raise NotFound("no such tip")
    if family is not None and outcome in (Outcome.PROMISING, Outcome.URGENT):
        family = await check_family_lead(session, tip=tip, lead=family, staff=staff)
    tipster = await session.get(Tipster, tip.tipster_id) if tip.tipster_id else None
    if outcome is Outcome.NEEDS_INFO and (tipster is None or not tip.contact_allowed):
        raise InvalidInput("the tipster did not agree to be contacted; we cannot ask them")
    await _transition(session, tip, staff, outcome)
    decision = Decision(
        tip_id=tip.id,
        staff_id=staff.id,
        outcome=outcome.value,
        note=note[:MAX_NOTE],
        details={
            k: v for k, v in {"question": question, "duplicate_of": duplicate_of}.items() if v
        },
    )
    session.add(decision)
    await session.flush()
    _count_against(tipster, outcome)
    await _tell_tipster(
        session,
        tip=tip,
        tipster=tipster,
        outcome=outcome,
        question=question,
        decision_id=decision.id,
    )
    await forward_on_decision(
        session,
        tip=tip,
        staff=staff,
        decision_id=decision.id,
        outcome=outcome.value,
        family=family,
    )
    await staff_action(
        session, staff, f"tip.{outcome.value}", "tip", tip.ref, reason=note[:500] or None
    )
    await session.commit()
    return Decided(tip_ref=tip.ref, outcome=outcome, decision_id=decision.id)


def _count_against(tipster: Tipster | None, outcome: Outcome) -> None:
    if tipster is None:
        return
    if outcome is Outcome.SPAM:
        tipster.spam_count += 1
    elif outcome in (Outcome.PROMISING, Outcome.URGENT):
        tipster.promising_count += 1


async def _tell_tipster(
    session: AsyncSession,
    *,
    tip: Tip,
    tipster: Tipster | None,
    outcome: Outcome,
    question: str,
    decision_id: int,
) -> None:
    if tipster is None or not tip.contact_allowed or outcome is Outcome.SPAM:
        return
    texts = Texts(tipster.language)
    buttons: list[list[tuple[str, str]]] = []
    if outcome is Outcome.NEEDS_INFO:
        text = texts("notify.question", ref=tip.ref, question=question.strip())
        buttons = [[(texts("notify.answer_button"), f"ans:{tip.ref}")]]
    else:
        status = texts(f"status.{PUBLIC_STATUS[outcome.value]}")
        text = texts("notify.status", ref=tip.ref, status=status)
    notice = notice_of(text, tipster.language, buttons=buttons)
    await tell(session, tipster_id=tipster.id, notice=notice, key=f"decision:{decision_id}:tipster")
