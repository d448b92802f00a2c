"""Forwarding rules: what a promising or urgent decision passes on, to whom, once each.

- promising: the family gets a vetted lead once a moderator wrote or approved its summary (on
  the decision, or later with forward_to_family); police get the evidence packet at once.
- urgent: police get the packet at once and the on-call staff are paged; the family gets the
  lead on the same terms as a promising one (a summary written or approved by a moderator).

Everything here writes rows in the caller's transaction: `decide` commits the decision and its
outbound messages together. Each forward is one `forwards` row per (tip, audience), audited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from core.i18n import Texts
from moderation.cases.families import Feedback, feedback_counts, pending_links, record_feedback
from moderation.cases.scam_gate import possible_extortion, senior_gate
from moderation.forwarding.family_leads import FAMILY, list_family, send_family_lead
from moderation.forwarding.police import forward_to_police, page_oncall
from moderation.forwarding.police_recipients import list_recipients
from moderation.policy import require
from moderation.review.queue import OPEN_STATUSES
from storage.models import (
    Case,
    Decision,
    Forward,
    OutboxMessage,
    PoliceRecipient,
    StaffUser,
    Subscription,
    Tip,
    TipPhoto,
    Tipster,
)
from storage.refs import normalise_ref
from storage.repositories import TipRepository

PASSED_ON = ("promising", "urgent")
MIN_SUMMARY, MAX_SUMMARY = 10, 600  # a photo caption holds 1,024 characters with the frame
MAX_PLACE = 120
# Decimal degrees (34.2612, 108,9424) or a degree sign: a point has no place in a family lead.
_COORDINATES = re.compile(r"\d{1,3}[.,]\d{3,}|°")
_STAFF_TEXTS = Texts("en")


@dataclass(frozen=True, slots=True)
class FamilyLead:
    """What a moderator wrote or approved for the family: never the tip's own words or a point."""

    summary: str
    coarse_place: str = ""
    include_photo_sha: str | None = None
    # A senior moderator's "I have read the warning" for a tip flagged possible extortion.
    approve_flagged: bool = False


def suggested_place(tip: Tip) -> str | None:
    """The coarse label of the tip's place (a city from the gazetteer), if it has one.

    A typed place that matched no city is the tipster's own words ("behind the school on 5th"):
    it is never suggested."""
    place = (tip.details or {}).get("place") or {}
    if place.get("label"):
        return str(place["label"])
    if tip.place_text and tip.place_text != place.get("text"):
        return tip.place_text
    return None


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


async def check_family_lead(
    session: AsyncSession, *, tip: Tip, lead: FamilyLead, staff: StaffUser
) -> FamilyLead:
    """The lead, cleaned; InvalidInput when it would tell the family more than it may, and
    NeedsSenior for a tip flagged possible extortion without a senior's approval."""
    if tip.case_id is None:
        raise InvalidInput("link the tip to a case before forwarding it to a family")
    senior_gate(tip, staff, approved=lead.approve_flagged)
    summary, place = lead.summary.strip(), " ".join(lead.coarse_place.split())
    place = place or suggested_place(tip) or ""
    if not MIN_SUMMARY <= len(summary) <= MAX_SUMMARY:
        raise InvalidInput(f"write a summary of {MIN_SUMMARY} to {MAX_SUMMARY} characters")
    if not place or len(place) > MAX_PLACE:
        raise InvalidInput(
            f"give a coarse place (a city or district, up to {MAX_PLACE} characters)"
        )
    if _COORDINATES.search(summary) or _COORDINATES.search(place):
        raise InvalidInput("no coordinates for families: name the city or district instead")
    raw = _flat(tip.text or "")
    if len(raw) >= 20 and raw in _flat(summary):
        raise InvalidInput("write the summary in your own words, not the tip's text")
    tipster = await session.get(Tipster, tip.tipster_id) if tip.tipster_id else None
    if tipster is not None and tipster.pseudonym.casefold() in summary.casefold():
        raise InvalidInput("the family never learns who sent a tip")
    sha = lead.include_photo_sha or None
    if sha is not None:
        photo = await session.scalar(
            select(TipPhoto.id).where(
                TipPhoto.tip_id == tip.id,
                TipPhoto.display_sha256 == sha,
                TipPhoto.status == "processed",
            )
        )
        if photo is None:
            raise InvalidInput("choose one of this tip's processed photos")
    return FamilyLead(
        summary=summary,
        coarse_place=place,
        include_photo_sha=sha,
        approve_flagged=lead.approve_flagged,
    )


async def _to_family(
    session: AsyncSession, *, tip: Tip, staff: StaffUser, decision_id: int | None, lead: FamilyLead
) -> Forward:
    case = await session.get(Case, tip.case_id) if tip.case_id else None
    if case is None:
        raise InvalidInput("link the tip to a case before forwarding it to a family")
    approved = senior_gate(tip, staff, approved=lead.approve_flagged)
    forward = Forward(
        tip_id=tip.id,
        case_id=case.id,
        audience=FAMILY,
        decision_id=decision_id,
        summary=lead.summary,
        coarse_place=lead.coarse_place,
        include_photo_sha=lead.include_photo_sha,
        created_by=staff.id,
    )
    session.add(forward)
    await session.flush()
    queued, muted = await send_family_lead(session, forward=forward, tip=tip, case=case)
    await staff_action(
        session,
        staff,
        "forward.family",
        "tip",
        tip.ref,
        detail={
            "forward_id": forward.id,
            "case_ref": case.ref,
            "queued": queued,
            "muted": muted,
            "photo": lead.include_photo_sha is not None,
            "extortion_approved": approved,
        },
    )
    return forward


async def _to_police(
    session: AsyncSession, *, tip: Tip, staff: StaffUser, decision_id: int, urgent: bool
) -> int:
    forward, queued = await forward_to_police(
        session, tip=tip, staff=staff, decision_id=decision_id, urgent=urgent
    )
    await staff_action(
        session,
        staff,
        "forward.police",
        "tip",
        tip.ref,
        detail={"forward_id": forward.id, "recipients": queued},
    )
    return queued


async def _page_urgent(
    session: AsyncSession, *, tip: Tip, staff: StaffUser, decision_id: int, recipients: int
) -> None:
    case = await session.get(Case, tip.case_id) if tip.case_id else None
    text = _STAFF_TEXTS(
        "police.page_urgent",
        tip=tip.ref,
        case=f"{case.full_name} ({case.ref})" if case else "-",
        score=f"{tip.score:.0f}",
        recipients=recipients,
    )
    subject = _STAFF_TEXTS("police.page_urgent_subject", tip=tip.ref)
    key = f"decision:{decision_id}:oncall"
    await page_oncall(session, key=key, subject=subject, text=text, link=f"/tips/{tip.ref}")
    await staff_action(
        session, staff, "forward.oncall", "tip", tip.ref, detail={"decision_id": decision_id}
    )


async def forward_on_decision(
    session: AsyncSession,
    *,
    tip: Tip,
    staff: StaffUser,
    decision_id: int,
    outcome: str,
    family: FamilyLead | None,
) -> None:
    """What a promising or urgent decision passes on; in the decision's transaction."""
    if outcome not in PASSED_ON:
        return
    await session.refresh(tip)  # the decision's UPDATE bypassed the loaded object
    urgent = outcome == "urgent"
    if family is not None:
        await _to_family(session, tip=tip, staff=staff, decision_id=decision_id, lead=family)
    recipients = await _to_police(
        session, tip=tip, staff=staff, decision_id=decision_id, urgent=urgent
    )
    if urgent:
        await _page_urgent(
            session, tip=tip, staff=staff, decision_id=decision_id, recipients=recipients
        )


@dataclass(frozen=True, slots=True)
class FamilyForwarded:
    """A lead forwarded to a family after its decision."""

    forward_id: int
    tip_ref: str


async def forward_to_family(
    session: AsyncSession, *, staff: StaffUser, tip_ref: str, lead: FamilyLead
) -> FamilyForwarded:
    """Forward a promising or urgent lead to the case's family, once. Commits; audited."""
    require(staff, "tip.decide", "only a moderator may forward a lead to a family")
    tip = await TipRepository(session).get_by_ref(normalise_ref(tip_ref))
    if tip is None:
        raise NotFound("no such tip")
    await session.refresh(tip)
    if tip.status not in PASSED_ON:
        raise InvalidInput("only a promising or urgent lead goes to the family")
    if await family_forward(session, tip_id=tip.id) is not None:
        raise InvalidInput("this lead was already forwarded to the family")
    lead = await check_family_lead(session, tip=tip, lead=lead, staff=staff)
    decision_id = await session.scalar(
        select(Decision.id)
        .where(Decision.tip_id == tip.id, Decision.outcome.in_(PASSED_ON))
        .order_by(Decision.id.desc())
        .limit(1)
    )
    forward = await _to_family(session, tip=tip, staff=staff, decision_id=decision_id, lead=lead)
    await session.commit()
    return FamilyForwarded(forward_id=forward.id, tip_ref=tip.ref)


async def family_forward(session: AsyncSession, *, tip_id: int) -> Forward | None:
    """The tip's family forward, if it was made."""
    stmt = select(Forward).where(Forward.tip_id == tip_id, Forward.audience == FAMILY)
    return await session.scalar(stmt)


# --- feedback ----------------------------------------------------------------------------------


async def answer_lead(
    session: AsyncSession, *, tipster: Tipster, forward_id: int, answer: str
) -> Feedback:
    """A family member's one-tap answer; "that's my child" pages the on-call staff. Commits."""
    feedback = await record_feedback(session, tipster=tipster, forward_id=forward_id, answer=answer)
    if feedback.changed and feedback.answer == "mine":
        tip = await session.get(Tip, feedback.tip_id)
        ref = tip.ref if tip else "-"
        await page_oncall(
            session,
            key=f"feedback:{forward_id}:{tipster.id}:mine",
            subject=_STAFF_TEXTS("police.page_family_mine_subject", tip=ref),
            text=_STAFF_TEXTS("police.page_family_mine", tip=ref, case=feedback.case_ref),
            link=f"/tips/{ref}",
        )
    await session.commit()
    return feedback


# --- what staff see ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForwardView:
    """A forward with how its deliveries went and what the family answered."""

    forward: Forward
    tip_ref: str
    deliveries: Sequence[OutboxMessage]
    feedback: dict[str, int] = field(default_factory=dict)


async def deliveries(session: AsyncSession, *, forward_id: int) -> Sequence[OutboxMessage]:
    """The outbox rows of one forward (sent, pending, or dead with a reason)."""
    stmt = select(OutboxMessage).where(
        OutboxMessage.idempotency_key.like(f"forward:{int(forward_id)}:%")
    )
    return (await session.scalars(stmt.order_by(OutboxMessage.id))).all()


async def forwards_of(
    session: AsyncSession,
    *,
    tip_id: int | None = None,
    case_id: int | None = None,
    audience: str | None = None,
    limit: int = 200,
) -> list[ForwardView]:
    """Forwards (of a tip, a case, an audience), newest first, with deliveries and answers."""
    stmt = select(Forward, Tip.ref).join(Tip, Tip.id == Forward.tip_id)
    if tip_id is not None:
        stmt = stmt.where(Forward.tip_id == tip_id)
    if case_id is not None:
        stmt = stmt.where(Forward.case_id == case_id)
    if audience is not None:
        stmt = stmt.where(Forward.audience == audience)
    views = []
    for forward, ref in await session.execute(stmt.order_by(Forward.id.desc()).limit(limit)):
        family = forward.audience == FAMILY
        counts = await feedback_counts(session, forward_id=forward.id) if family else {}
        rows = await deliveries(session, forward_id=forward.id)
        views.append(ForwardView(forward=forward, tip_ref=ref, deliveries=rows, feedback=counts))
    return views


@dataclass(frozen=True, slots=True)
class TipForwarding:
    """Everything the forwarding page of a tip shows."""

    tip: Tip
    case: Case | None
    photos: Sequence[str]  # display copies a moderator may choose to include
    suggested_place: str | None
    family_members: int
    muted: int
    police_recipients: int
    forwards: list[ForwardView]
    can_decide: bool
    can_forward_to_family: bool
    possible_extortion: bool = False  # the family gets it only with a senior's approval


async def tip_forwarding(session: AsyncSession, *, tip: Tip) -> TipForwarding:
    """The forwarding page of a tip the caller may see."""
    case = await session.get(Case, tip.case_id) if tip.case_id else None
    photos = await session.scalars(
        select(TipPhoto.display_sha256)
        .where(TipPhoto.tip_id == tip.id, TipPhoto.status == "processed")
        .where(TipPhoto.display_sha256.is_not(None))
        .order_by(TipPhoto.id)
    )
    family = await list_family(session, case_id=case.id) if case else []
    recipients = (
        await list_recipients(session, case_id=case.id, deliverable_only=True) if case else []
    )
    forwards = await forwards_of(session, tip_id=tip.id)
    forwarded = any(view.forward.audience == FAMILY for view in forwards)
    return TipForwarding(
        tip=tip,
        case=case,
        photos=[sha for sha in photos if sha],
        suggested_place=suggested_place(tip),
        family_members=len(family),
        muted=sum(1 for sub in family if sub.paused),
        police_recipients=len(recipients),
        forwards=forwards,
        can_decide=tip.status in OPEN_STATUSES,
        can_forward_to_family=case is not None and tip.status in PASSED_ON and not forwarded,
        possible_extortion=possible_extortion(tip),
    )


@dataclass(frozen=True, slots=True)
class CaseForwarding:
    """Who a case's leads go to, and what was forwarded (for senior moderators)."""

    case: Case
    family: Sequence[Subscription]
    pending_links: int
    recipients: Sequence[PoliceRecipient]
    forwards: list[ForwardView]


async def case_forwarding(session: AsyncSession, *, case_ref: str) -> CaseForwarding:
    """The forwarding page of a case; NotFound when there is none."""
    case = await session.scalar(select(Case).where(Case.ref == normalise_ref(case_ref)))
    if case is None:
        raise NotFound("no such case")
    return CaseForwarding(
        case=case,
        family=await list_family(session, case_id=case.id),
        pending_links=await pending_links(session, case_id=case.id),
        recipients=await list_recipients(session, case_id=case.id),
        forwards=await forwards_of(session, case_id=case.id),
    )
