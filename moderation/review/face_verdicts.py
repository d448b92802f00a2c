"""Face matches judged by a moderator: "same child" or "not the same", once per tip and case.

The similarity is a hint; the verdict is a person's. "Same child" links the tip to the case
(moderation/review/case_links.py: scored again, eligible for the case's family and police). "Not the
same" takes that case's faces out of the tip's face score. The verdict is kept and audited, and
the face panel shows it instead of asking again.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from core.tips.evaluate import rescore_tip
from core.tips.face_ages import NOT_SAME
from moderation.policy import require
from moderation.review.case_links import linkable_case, relink
from moderation.review.tip_access import visible_tip
from storage.models import Case, FaceMatch, FaceVerdict, StaffUser, Tip
from storage.refs import normalise_ref
from storage.repositories import CaseRepository
from storage.types import utcnow

SAME = "same"
VERDICTS = (SAME, NOT_SAME)


async def _judged(session: AsyncSession, tip: Tip, case: Case) -> FaceVerdict | None:
    return await session.scalar(
        select(FaceVerdict).where(FaceVerdict.tip_id == tip.id, FaceVerdict.case_id == case.id)
    )


async def _matched_case(session: AsyncSession, tip: Tip, case_ref: str) -> Case:
    case = await CaseRepository(session).get_by_ref(normalise_ref(case_ref))
    matched = case is not None and await session.scalar(
        select(FaceMatch.id)
        .where(FaceMatch.tip_id == tip.id, FaceMatch.case_id == case.id)
        .limit(1)
    )
    if case is None or not matched:
        raise NotFound(f"tip {tip.ref} has no face match with case {normalise_ref(case_ref)}")
    return case


async def judge_face(
    session: AsyncSession, *, staff: StaffUser, tip_ref: str, case_ref: str, verdict: str
) -> FaceVerdict:
    """Keep a moderator's verdict on a tip's face match with a case; "same" links the tip to
    the case. A second verdict on the same pair is refused. Audited; commits."""
    require(staff, "tip.face_verdict", "your role may not judge face matches")
    if verdict not in VERDICTS:
        raise InvalidInput("choose 'same child' or 'not the same'")
    tip = await visible_tip(session, staff=staff, ref=tip_ref, action="tip.face_verdict")
    case = await _matched_case(session, tip, case_ref)
    if await _judged(session, tip, case) is not None:
        raise InvalidInput(f"this face match with case {case.ref} was already judged")
    if verdict == SAME and tip.case_id != case.id:
        await linkable_case(session, case_ref=case.ref)  # refuses before anything is written
    row = FaceVerdict(tip_id=tip.id, case_id=case.id, verdict=verdict, staff_id=staff.id)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise InvalidInput(f"this face match with case {case.ref} was already judged") from None
    await staff_action(
        session, staff, f"tip.face_{verdict}", "tip", tip.ref, detail={"case": case.ref}
    )
    if verdict == SAME and tip.case_id != case.id:
        await relink(session, staff=staff, tip_ref=tip.ref, case_ref=case.ref)  # commits
        return row
    judged = "the same child as" if verdict == SAME else "not the same child as"
    reason = f"Face judged {judged} case {case.ref} by {staff.email}."
    await rescore_tip(session, tip=tip, now=utcnow(), reason=reason)
    await session.commit()
    return row
