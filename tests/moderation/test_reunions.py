"""Confirmation and reunion of a found-match (use cases): evidence required, once, the case found
and linked, alerts ended, family and tipsters told once each through the outbox, audited; bad
input refused with nothing changed.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput
from moderation.cases.matches import MatchAlreadyDecided
from moderation.cases.reunions import confirm_match, record_reunion, start_review
from storage.models import (
    AuditEvent,
    Case,
    CaseAlert,
    CaseMatch,
    OutboxMessage,
    Subscription,
    Tipster,
)
from tests.moderation import factories

DAY = date(2026, 11, 20)


async def _person(session, language: str = "en") -> Tipster:
    row = Tipster(pseudonym=f"T-{secrets.token_hex(4)}", language=language)
    session.add(row)
    await session.commit()
    return row


async def _world(session):
    """An active missing case with a Chinese-speaking family member, two tipsters (three tips),
    an alerted volunteer, and a found person matched with it."""
    missing = Case(full_name="Li Na", status="active", contact_ciphertext=b"sealed")
    found = Case(kind="found", full_name="Unknown woman", status="submitted")
    session.add_all([missing, found])
    await session.flush()
    mother = await _person(session, "zh-Hans")
    session.add(Subscription(kind="family", tipster_id=mother.id, case_id=missing.id))
    first, second = await _person(session), await _person(session)
    for person in (first, first, second):
        await factories.tip(session, tipster=person, case_id=missing.id)
    volunteer = await _person(session)
    area = Subscription(kind="volunteer", tipster_id=volunteer.id, lat=30.0, lon=104.0)
    session.add(area)
    await session.flush()
    session.add(CaseAlert(case_id=missing.id, subscription_id=area.id, kind="alert"))
    match = CaseMatch(case_id=missing.id, other_case_id=found.id, kind="found", score=0.9)
    session.add(match)
    await session.commit()
    return missing, found, match


async def _outbox(session) -> list[OutboxMessage]:
    return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_confirming_by_dna_closes_the_case_links_records_and_tells_everyone_once(session):
    senior = await factories.staff(session, "senior_moderator")
    missing, found, match = await _world(session)
    await start_review(session, staff=senior, match_id=match.id)
    confirmed = await confirm_match(
        session,
        staff=senior,
        match_id=match.id,
        evidence_type="dna",
        evidence_ref="LAB-2026-0042",
        evidence_on=DAY,
    )
    assert (confirmed.status, confirmed.evidence_type, confirmed.evidence_ref) == (
        "confirmed",
        "dna",
        "LAB-2026-0042",
    )
    assert confirmed.confirmed_by == senior.id and confirmed.evidence_on == DAY
    await session.refresh(missing)
    await session.refresh(found)
    assert missing.status == "found" and missing.linked_case_id == found.id
    assert found.linked_case_id == missing.id
    keys = sorted(m.idempotency_key for m in await _outbox(session))
    assert len([k for k in keys if ":found:family:" in k]) == 1
    assert len([k for k in keys if ":found:tipster:" in k]) == 2  # two tipsters, three tips
    assert len([k for k in keys if k.startswith("ended:")]) == 1  # the volunteer
    family = next(m for m in await _outbox(session) if ":found:family:" in m.idempotency_key)
    assert "DNA比对" in family.payload["text"] and "李" not in family.payload["text"]
    tipster = next(m for m in await _outbox(session) if ":found:tipster:" in m.idempotency_key)
    assert "Li Na" not in tipster.payload["text"] and missing.ref not in tipster.payload["text"]
    with pytest.raises(MatchAlreadyDecided):
        await confirm_match(
            session,
            staff=senior,
            match_id=match.id,
            evidence_type="dna",
            evidence_ref="LAB-2026-0043",
            evidence_on=DAY,
        )
    assert len(await _outbox(session)) == len(keys)
    await session.refresh(match)
    assert match.evidence_ref == "LAB-2026-0042"
    reunited = await record_reunion(
        session, staff=senior, match_id=match.id, on=DAY, place="Chengdu", note="Home", public=True
    )
    assert (reunited.status, reunited.reunion_place, reunited.reunion_public) == (
        "reunited",
        "Chengdu",
        True,
    )
    actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert actions == [
        "case_match.reviewing",
        "case.found",
        "case.linked",
        "case_match.confirmed",
        "case_match.reunited",
    ]
    assert len(await _outbox(session)) == len(keys)  # the reunion tells nobody again


@pytest.mark.parametrize(
    ("evidence", "ref", "on", "message"),
    [
        ("", "LAB-1", DAY, "how the match was confirmed"),
        ("a hunch", "LAB-1", DAY, "how the match was confirmed"),
        ("dna", "", DAY, "reference"),
        ("police_id", "P-1", None, "date"),
    ],
)
async def test_a_confirmation_without_its_evidence_is_refused_and_nothing_changes(
    session, evidence, ref, on, message
):
    senior = await factories.staff(session, "senior_moderator")
    missing, _, match = await _world(session)
    with pytest.raises(InvalidInput, match=message):
        await confirm_match(
            session,
            staff=senior,
            match_id=match.id,
            evidence_type=evidence,
            evidence_ref=ref,
            evidence_on=on,
        )
    await session.refresh(match)
    await session.refresh(missing)
    assert match.status == "open" and missing.status == "active"
    assert await session.scalar(select(func.count(OutboxMessage.id))) == 0


async def test_a_reunion_on_an_unconfirmed_match_is_refused(session):
    senior = await factories.staff(session, "senior_moderator")
    _, _, match = await _world(session)
    with pytest.raises(InvalidInput, match="only after the match is confirmed"):
        await record_reunion(session, staff=senior, match_id=match.id, on=DAY, place="Chengdu")
    await session.refresh(match)
    assert match.status == "open" and match.reunion_on is None


async def test_a_moderator_may_review_but_only_senior_or_police_confirm(session):
    moderator = await factories.staff(session, "moderator")
    police = await factories.staff(session, "police_liaison")
    _, _, match = await _world(session)
    with pytest.raises(PermissionError):
        await confirm_match(
            session, staff=moderator, match_id=match.id, evidence_type="dna", evidence_on=DAY
        )
    confirmed = await confirm_match(
        session,
        staff=police,
        match_id=match.id,
        evidence_type="police_id",
        evidence_ref="PSB-7",
        evidence_on=DAY,
    )
    assert confirmed.status == "confirmed" and confirmed.confirmed_by == police.id
