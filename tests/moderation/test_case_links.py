"""Tip to case: linking scores the tip against the case and makes it the case's lead; unlinking,
whole clusters, face verdicts, and every refusal changing nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.dedup import PhashIndex
from core.errors import InvalidInput, NotFound
from core.tips.evaluate import evaluate_tip
from moderation.forwarding.forward import FamilyLead, check_family_lead
from moderation.review.case_links import relink
from moderation.review.decisions import Outcome, decide
from moderation.review.face_verdicts import judge_face
from moderation.review.queue import ClaimConflict, claim
from storage.models import (
    AuditEvent,
    Case,
    CasePhoto,
    FaceEmbedding,
    FaceMatch,
    FaceVerdict,
    Forward,
    Tip,
    TipCluster,
    TipPhoto,
    TipScore,
)
from storage.types import utcnow
from tests.moderation import factories

_serial = itertools.count(1)


async def _staff(session, role: str = "moderator", email: str | None = None):
    """A staff member with an e-mail of their own (factories' id()-based ones may repeat)."""
    return await factories.staff(
        session, role, email=email or f"{role}-{next(_serial)}@example.org"
    )


XIAN = (34.2778, 108.9631)
PARIS = (48.8566, 2.3522)
LEAD = FamilyLead(summary="A girl like her was seen near the old town gate.", coarse_place="Xi'an")


async def _case(session, **values: Any) -> Case:
    defaults: dict[str, Any] = {
        "full_name": "Li Wei",
        "status": "active",
        "last_seen_at": utcnow() - timedelta(hours=10),
        "last_seen_lat": XIAN[0],
        "last_seen_lon": XIAN[1],
    }
    row = Case(**(defaults | values))
    session.add(row)
    await session.commit()
    return row


async def _scored_tip(session, *, point=XIAN, hours_ago: float = 2.0, **values: Any) -> Tip:
    """A tip seen somewhere, evaluated by the evidence pipeline (scored, in no case yet)."""
    row = await factories.tip(
        session,
        seen_at=utcnow() - timedelta(hours=hours_ago),
        seen_at_precision="now",
        lat=point[0],
        lon=point[1],
        location_source="live",
        **values,
    )
    await evaluate_tip(session, tip_id=row.id, phash_index=PhashIndex(), now=utcnow())
    await session.refresh(row)
    return row


def _part(tip: Tip, name: str) -> dict[str, Any]:
    return next(p for p in tip.score_parts["parts"] if p["name"] == name)


async def _audit(session, action: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list((await session.scalars(stmt)).all())


async def _history(session, tip: Tip) -> list[tuple[float, str]]:
    stmt = select(TipScore.score, TipScore.reason).where(TipScore.tip_id == tip.id)
    return [(s, r) for s, r in (await session.execute(stmt.order_by(TipScore.id))).all()]


async def test_linking_scores_the_tip_against_the_case_and_makes_it_the_cases_lead(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
        before = row.score
        assert _part(row, "travel")["points"] == 0  # nothing to check travel against yet
        with pytest.raises(InvalidInput, match="link the tip to a case"):
            await check_family_lead(session, tip=row, lead=LEAD, staff=mod)
        result = await relink(session, staff=mod, tip_ref=row.ref, case_ref=case.ref.lower())
    assert (result.case_ref, result.moved, result.skipped) == (case.ref, [row.ref], [])
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        assert tip.case_id == case.id
        assert _part(tip, "travel")["data"]["mode"] == "on foot"
        assert tip.score > before
        history = await _history(session, tip)
        assert history[0][1].startswith("Scored when")
        assert history[-1] == (tip.score, f"Linked to case {case.ref} by {mod.email}.")
        [event] = await _audit(session, "tip.link_case")
        assert (event.actor_id, event.object_ref) == (mod.id, tip.ref)
        assert event.detail == {"case": case.ref, "from": None}
        assert await check_family_lead(
            session, tip=tip, lead=LEAD, staff=mod
        )  # now the family's lead


async def test_linking_flags_travel_no_child_could_have_made(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session, last_seen_at=utcnow() - timedelta(hours=3))
        row = await _scored_tip(session, point=PARIS, hours_ago=1)
        await relink(session, staff=mod, tip_ref=row.ref, case_ref=case.ref)
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
    assert _part(tip, "travel")["points"] == -40
    assert [f["code"] for f in tip.score_parts["flags"]] == ["impossible_travel"]


async def test_unlinking_scores_the_tip_without_the_case_and_is_audited(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
        alone = row.score
        await relink(session, staff=mod, tip_ref=row.ref, case_ref=case.ref)
        await relink(session, staff=mod, tip_ref=row.ref, case_ref=None)
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        assert (tip.case_id, tip.score) == (None, alone)
        [event] = await _audit(session, "tip.unlink_case")
        assert event.detail == {"case": None, "from": case.ref}
        assert (await _history(session, tip))[-1][1].startswith(f"Unlinked from case {case.ref}")


async def test_a_whole_cluster_is_linked_but_a_lead_passed_on_elsewhere_stays(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case, other = await _case(session), await _case(session, full_name="Zhang San")
        tips = [await _scored_tip(session) for _ in range(3)]
        group = TipCluster(size=3, independent_sources=3)
        session.add(group)
        await session.flush()
        for member in tips:
            member.cluster_id = group.id
        tips[2].case_id = other.id
        session.add(
            Forward(tip_id=tips[2].id, case_id=other.id, audience="police", created_by=mod.id)
        )
        await session.commit()
        result = await relink(
            session, staff=mod, tip_ref=tips[0].ref, case_ref=case.ref, whole_cluster=True
        )
    assert result.moved == [tips[0].ref, tips[1].ref]
    assert result.skipped == [
        (
            tips[2].ref,
            f"tip {tips[2].ref} was already passed on for case {other.ref}; that cannot be undone",
        )
    ]
    async with sessions() as session:
        cases = [(await session.get(Tip, t.id)).case_id for t in tips]
        assert cases == [case.id, case.id, other.id]
        assert (await session.get(TipCluster, group.id)).case_id == case.id
        events = await _audit(session, "tip.link_case")
        assert [e.detail.get("cluster") for e in events] == [group.ref, group.ref]


async def _state(sessions) -> tuple[Any, ...]:
    async with sessions() as session:
        tips = (
            await session.execute(select(Tip.id, Tip.case_id, Tip.score).order_by(Tip.id))
        ).all()
        return (
            [tuple(t) for t in tips],
            await session.scalar(select(func.count(AuditEvent.id))),
            await session.scalar(select(func.count(TipScore.id))),
            await session.scalar(select(func.count(FaceVerdict.id))),
        )


@pytest.mark.parametrize(
    ("case_ref", "error", "message"),
    [
        ("ZZZZ-ZZZZ", NotFound, "no case has the reference ZZZZ-ZZZZ"),
        ("", InvalidInput, "give the reference of the case"),
        ("closed", InvalidInput, "is closed: tips can be linked only to verified or active"),
        ("submitted", InvalidInput, "is submitted: tips can be linked only"),
    ],
)
async def test_a_link_to_a_case_that_cannot_take_it_is_refused_and_changes_nothing(
    sessions, case_ref, error, message
):
    async with sessions() as session:
        mod = await _staff(session)
        closed = await _case(session, status="closed")
        submitted = await _case(session, status="submitted")
        row = await _scored_tip(session)
    ref = {"closed": closed.ref, "submitted": submitted.ref}.get(case_ref, case_ref)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(error, match=message):
            await relink(session, staff=mod, tip_ref=row.ref, case_ref=ref)
    assert await _state(sessions) == before


async def test_unlinking_a_tip_not_linked_or_relinking_the_same_case_is_refused(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput, match="is not linked to a case; nothing changed"):
            await relink(session, staff=mod, tip_ref=row.ref, case_ref=None)
    assert await _state(sessions) == before
    async with sessions() as session:
        await relink(session, staff=mod, tip_ref=row.ref, case_ref=case.ref)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput, match=f"already linked to case {case.ref}"):
            await relink(session, staff=mod, tip_ref=row.ref, case_ref=case.ref)
    assert await _state(sessions) == before


async def test_a_tip_a_colleague_holds_or_already_passed_on_is_not_moved(sessions):
    async with sessions() as session:
        mod, colleague = await _staff(session), await _staff(session)
        case, other = await _case(session), await _case(session)
        held = await _scored_tip(session)
        await claim(session, tip_id=held.id, staff_id=colleague.id)
        sent = await _scored_tip(session, case_id=other.id)
        await decide(session, staff=mod, tip_ref=sent.ref, outcome=Outcome.PROMISING, family=LEAD)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(ClaimConflict, match="being reviewed by a colleague"):
            await relink(session, staff=mod, tip_ref=held.ref, case_ref=case.ref)
        with pytest.raises(InvalidInput, match=f"already passed on for case {other.ref}"):
            await relink(session, staff=mod, tip_ref=sent.ref, case_ref=None)
    assert await _state(sessions) == before


async def test_a_role_that_may_not_link_is_refused(sessions):
    async with sessions() as session:
        auditor = await _staff(session, "auditor")
        case = await _case(session)
        row = await _scored_tip(session)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(PermissionError):
            await relink(session, staff=auditor, tip_ref=row.ref, case_ref=case.ref)
        with pytest.raises(PermissionError):
            await judge_face(
                session, staff=auditor, tip_ref=row.ref, case_ref=case.ref, verdict="same"
            )
    assert await _state(sessions) == before


# A strong face match's 25 points, weighed 0.7: the case photo's age is unknown (core/photo_ages).
FACE_POINTS = 18


async def _face_match(session, tip: Tip, case: Case, similarity: float) -> None:
    photo = TipPhoto(tip_id=tip.id, status="processed")
    case_photo = CasePhoto(case_id=case.id, status="ready")
    session.add_all([photo, case_photo])
    await session.flush()
    tip_face = FaceEmbedding(tip_photo_id=photo.id, vector=b"\0" * 512)
    case_face = FaceEmbedding(case_photo_id=case_photo.id, case_id=case.id, vector=b"\0" * 512)
    session.add_all([tip_face, case_face])
    await session.flush()
    session.add(
        FaceMatch(
            tip_face_id=tip_face.id,
            case_face_id=case_face.id,
            tip_id=tip.id,
            case_id=case.id,
            similarity=similarity,
            distance=(1 - similarity) * 1.2,
        )
    )
    await session.commit()


async def test_same_child_links_the_tip_and_the_verdict_is_kept_once(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
        await _face_match(session, row, case, 0.8)
        await judge_face(session, staff=mod, tip_ref=row.ref, case_ref=case.ref, verdict="same")
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        assert tip.case_id == case.id
        assert _part(tip, "face")["points"] == FACE_POINTS
        [verdict] = (await session.scalars(select(FaceVerdict))).all()
        assert (verdict.verdict, verdict.staff_id, verdict.case_id) == ("same", mod.id, case.id)
        assert [e.detail for e in await _audit(session, "tip.face_same")] == [{"case": case.ref}]
        assert len(await _audit(session, "tip.link_case")) == 1
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(InvalidInput, match="already judged"):
            await judge_face(
                session, staff=mod, tip_ref=row.ref, case_ref=case.ref, verdict="not_same"
            )
    assert await _state(sessions) == before


async def test_not_the_same_takes_the_face_out_of_the_score(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
        await _face_match(session, row, case, 0.8)
        await evaluate_tip(session, tip_id=row.id, phash_index=PhashIndex(), now=utcnow())
        assert _part(await session.get(Tip, row.id), "face")["points"] == FACE_POINTS
        await judge_face(session, staff=mod, tip_ref=row.ref, case_ref=case.ref, verdict="not_same")
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        assert (tip.case_id, _part(tip, "face")["points"]) == (None, 0)
        assert (await _history(session, tip))[-1][1].startswith("Face judged not the same child")


async def test_a_verdict_without_a_face_match_or_with_a_bad_word_is_refused(sessions):
    async with sessions() as session:
        mod = await _staff(session)
        case = await _case(session)
        row = await _scored_tip(session)
    before = await _state(sessions)
    async with sessions() as session:
        with pytest.raises(NotFound, match="has no face match with case"):
            await judge_face(session, staff=mod, tip_ref=row.ref, case_ref=case.ref, verdict="same")
        with pytest.raises(InvalidInput, match="same child"):
            await judge_face(
                session, staff=mod, tip_ref=row.ref, case_ref=case.ref, verdict="maybe"
            )
    assert await _state(sessions) == before
