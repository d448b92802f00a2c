"""Moderators confirm or dismiss case matches: once, audited, and only with the right role."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput, NotFound
from moderation.cases.matches import MatchAlreadyDecided, decide_match, list_matches
from storage.models import AuditEvent, Case, CaseMatch, CasePhoto
from tests.moderation import factories


async def _match(session, *, score=0.8, kind="found") -> CaseMatch:
    missing = Case(full_name="Lily Chen", status="active")
    found = Case(full_name="Mimi", kind="found" if kind == "found" else "missing", status="active")
    session.add_all([missing, found])
    await session.flush()
    session.add(CasePhoto(case_id=missing.id, status="ready", display_sha256="a" * 64, position=0))
    session.add(CasePhoto(case_id=found.id, status="quarantined", source_ref="tg:x"))
    match = CaseMatch(
        case_id=missing.id,
        other_case_id=found.id,
        kind=kind,
        score=score,
        reasons=[{"code": "face", "params": {"similarity": 0.74}}],
    )
    session.add(match)
    await session.commit()
    return match


async def _audits(session) -> list[AuditEvent]:
    return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_a_found_person_is_never_confirmed_without_evidence_here(session):
    moderator = await factories.staff(session, "moderator")
    match = await _match(session)
    with pytest.raises(InvalidInput, match="evidence"):
        await decide_match(session, staff=moderator, match_id=match.id, outcome="confirmed")
    await session.refresh(match)
    assert match.status == "open" and await _audits(session) == []


async def test_a_match_is_decided_once_and_audited(session):
    moderator = await factories.staff(session, "moderator")
    match = await _match(session, kind="duplicate")
    decided = await decide_match(
        session, staff=moderator, match_id=match.id, outcome="confirmed", note="same scar"
    )
    assert decided.status == "confirmed" and decided.reviewed_by == moderator.id
    assert decided.reviewed_at is not None
    again = await decide_match(session, staff=moderator, match_id=match.id, outcome="confirmed")
    assert again.status == "confirmed"
    (event,) = await _audits(session)
    assert (event.action, event.object_type, event.object_ref) == (
        "case_match.confirmed",
        "case_match",
        str(match.id),
    )
    assert event.reason == "same scar" and event.detail["kind"] == "duplicate"
    assert len(event.detail["cases"]) == 2


async def test_a_match_decided_the_other_way_meanwhile_is_refused(session):
    moderator = await factories.staff(session, "moderator")
    senior = await factories.staff(session, "senior_moderator")
    match = await _match(session)
    await decide_match(session, staff=senior, match_id=match.id, outcome="dismissed")
    with pytest.raises(MatchAlreadyDecided):
        await decide_match(session, staff=moderator, match_id=match.id, outcome="confirmed")
    await session.refresh(match)
    assert match.status == "dismissed" and match.reviewed_by == senior.id
    assert len(await _audits(session)) == 1


async def test_a_role_without_case_matches_is_refused(session):
    police = await factories.staff(session, "police_liaison")
    auditor = await factories.staff(session, "auditor")
    match = await _match(session)
    for staff in (police, auditor):
        with pytest.raises(PermissionError):
            await decide_match(session, staff=staff, match_id=match.id, outcome="dismissed")
        with pytest.raises(PermissionError):
            await list_matches(session, staff=staff)
    await session.refresh(match)
    assert match.status == "open"
    assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_bad_outcomes_and_unknown_matches_get_a_clear_error(session):
    moderator = await factories.staff(session, "moderator")
    match = await _match(session)
    with pytest.raises(InvalidInput):
        await decide_match(session, staff=moderator, match_id=match.id, outcome="maybe")
    with pytest.raises(NotFound):
        await decide_match(session, staff=moderator, match_id=match.id + 99, outcome="dismissed")
    with pytest.raises(InvalidInput):
        await list_matches(session, staff=moderator, status="lost")


async def test_open_matches_are_listed_best_first_with_both_cases_and_ready_photos(session):
    admin = await factories.staff(session, "admin")
    low = await _match(session, score=0.5)
    high = await _match(session, score=0.9, kind="duplicate")
    views = await list_matches(session, staff=admin)
    assert [v.match.id for v in views] == [high.id, low.id]
    top = views[0]
    assert top.left.case.full_name == "Lily Chen" and top.right.case.full_name == "Mimi"
    assert top.left.photos == ["a" * 64] and top.right.photos == []  # quarantined: not shown
    assert top.face_similarity == pytest.approx(0.74)
    assert [v.match.id for v in await list_matches(session, staff=admin, kind="found")] == [low.id]
    await decide_match(session, staff=admin, match_id=low.id, outcome="dismissed")
    assert [v.match.id for v in await list_matches(session, staff=admin)] == [high.id]
    dismissed = await list_matches(session, staff=admin, status="dismissed")
    assert [v.match.id for v in dismissed] == [low.id]
