"""The /matches page: likely matches between cases side by side, reasons in words, and the
confirm / dismiss form (CSRF, once, audited). MATCHES_SAMPLES feeds the policy route matrix.

Runs on SQLite and PostgreSQL through the real app (httpx + ASGITransport).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.cases.matching import refresh_matches
from core.i18n import Texts
from moderation.policy import can
from storage.models import AuditEvent, CaseMatch, CasePhoto
from storage.types import utcnow
from tests.web import dashboard_world as world
from tests.web.test_policy_routes import Request
from web.dashboard.matches import reason_words


async def _pair(session, context) -> tuple[Any, Any, CaseMatch, str]:
    """A missing girl with a clean photo, a found girl who knows her nickname, and their match."""
    missing = await world.case(
        session,
        full_name="Lily Chen",
        nicknames="Mimi",
        sex="female",
        birth_date=date(2019, 3, 1),
        last_seen_at=utcnow() - timedelta(days=400),
        contact_ciphertext=b"sealed",
        police_ref="PSB-2025-0042",
    )
    found = await world.case(
        session,
        kind="found",
        full_name="Mimi",
        sex="female",
        age_years=7,
        last_seen_at=utcnow() - timedelta(days=20),
        last_seen_place="Chengdu bus station",
        last_seen_lat=30.57,
        last_seen_lon=104.07,
    )
    sha = context.photos.display.put(world.jpeg((200, 30, 30)))
    session.add(CasePhoto(case_id=missing.id, status="ready", display_sha256=sha))
    session.add(CasePhoto(case_id=found.id, status="quarantined", source_ref="tg:secret-file"))
    (match,) = await refresh_matches(session, case=found)
    await session.commit()
    return missing, found, match, sha


async def _matches_page(session, signed, context):
    await _pair(session, context)
    return Request("/matches")


async def _decide_sample(session, signed, context):
    _, _, match, _ = await _pair(session, context)
    return Request(f"/matches/{match.id}/decide", {"outcome": "dismissed"})


async def _review_sample(session, signed, context):
    _, _, match, _ = await _pair(session, context)
    return Request(f"/matches/{match.id}/review", {})


async def _confirm_sample(session, signed, context):
    missing, _, match, _ = await _pair(session, context)
    missing.status = "verified"
    await session.commit()
    return Request(
        f"/matches/{match.id}/confirm",
        {"evidence_type": "dna", "evidence_ref": "LAB-1", "evidence_on": "2026-01-02"},
    )


async def _reunion_sample(session, signed, context):
    _, _, match, _ = await _pair(session, context)
    match.status = "confirmed"
    await session.commit()
    return Request(
        f"/matches/{match.id}/reunion", {"reunion_on": "2026-01-03", "reunion_place": "Chengdu"}
    )


MATCHES_SAMPLES = {
    ("GET", "/matches"): _matches_page,
    ("POST", "/matches/{match_id}/decide"): _decide_sample,
    ("POST", "/matches/{match_id}/review"): _review_sample,
    ("POST", "/matches/{match_id}/confirm"): _confirm_sample,
    ("POST", "/matches/{match_id}/reunion"): _reunion_sample,
}


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        pytest.param(role, method, path, id=f"{role}-{method}-{path}")
        for method, path in sorted(MATCHES_SAMPLES)
        for role in world.ROLES
    ],
)
async def test_each_role_reaches_exactly_the_match_routes_the_policy_allows(
    client, sessions, context, role, method, path
):
    from tests.web.test_policy_routes import ACTIONS

    action = ACTIONS[(method, path)]
    assert action in ("case.matches", "case.confirm_match")
    async with sessions() as session:
        signed = await world.sign_in_as(session, role)
        request = await MATCHES_SAMPLES[(method, path)](session, signed, context)
        before = (await session.scalars(select(CaseMatch.status))).all()
    world.use(client, signed)
    if request.data is None:
        response = await client.get(request.url)
    else:
        response = await client.post(request.url, data={**request.data, "csrf": signed.csrf})
    async with sessions() as session:
        statuses = (await session.scalars(select(CaseMatch.status))).all()
    if can(role, action):
        assert 200 <= response.status_code < 400, (role, response.text[:300])
        return
    assert response.status_code == 403 and statuses == before


async def test_the_page_shows_both_cases_the_reasons_and_only_clean_public_things(
    client, sessions, context
):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        missing, found, match, sha = await _pair(session, context)
    world.use(client, signed)
    page = await client.get("/matches")
    assert page.status_code == 200
    text = page.text
    assert missing.ref in text and found.ref in text and "Chengdu bus station" in text
    assert "Nickname alike: mimi / mimi (100%)" in text
    assert "Same sex (female)" in text and "Age fits" in text
    assert f'src="/media/display/{sha}"' in text and "No photo yet" in text
    assert "tg:secret-file" not in text and "PSB-2025-0042" not in text and "sealed" not in text
    assert f'action="/matches/{match.id}/decide"' in text and signed.csrf in text
    assert '<a href="/matches">Matches</a>' in text
    photo = await client.get(f"/media/display/{sha}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    chinese = (await client.get("/matches?lang=zh-Hans")).text
    assert "小名相近：mimi / mimi（100%）" in chinese and "性别相同（女）" in chinese


async def test_a_match_is_dismissed_once_from_the_page_and_leaves_the_open_list(
    client, sessions, context
):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "senior_moderator")
        _, _, match, _ = await _pair(session, context)
    world.use(client, signed)
    url = f"/matches/{match.id}/decide"
    form = {"outcome": "dismissed", "note": "different family", "csrf": signed.csrf}
    first = await client.post(url, data=form)
    second = await client.post(url, data=form)
    assert first.status_code == second.status_code == 303
    other_way = await client.post(url, data={**form, "outcome": "confirmed"})
    assert other_way.status_code == 409 and "already dismissed" in other_way.text
    listing = (await client.get(first.headers["location"])).text
    assert "Decision recorded." in listing and "No matches to review." in listing
    dismissed = (await client.get("/matches?status=dismissed")).text
    assert "Lily Chen" in dismissed and url not in dismissed
    async with sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
        row = await session.get(CaseMatch, match.id)
    assert actions.count("case_match.dismissed") == 1 and row.status == "dismissed"


async def test_a_form_without_its_token_or_with_a_bad_outcome_changes_nothing(
    client, sessions, context
):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        _, _, match, _ = await _pair(session, context)
    world.use(client, signed)
    url = f"/matches/{match.id}/decide"
    forged = await client.post(url, data={"outcome": "confirmed"})
    bad = await client.post(url, data={"outcome": "maybe", "csrf": signed.csrf})
    missing = await client.post(
        "/matches/999999/decide", data={"outcome": "dismissed", "csrf": signed.csrf}
    )
    junk = await client.post(
        "/matches/abc/decide", data={"outcome": "dismissed", "csrf": signed.csrf}
    )
    assert forged.status_code == 403 and bad.status_code == 400
    assert missing.status_code == junk.status_code == 404
    async with sessions() as session:
        assert (await session.get(CaseMatch, match.id)).status == "open"
        count = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("case_match%"))
        )
        assert await session.scalar(count) == 0


def test_an_unknown_reason_code_is_shown_as_its_code():
    texts = Texts("en")
    assert reason_words(texts, {"code": "gait", "params": {}}) == "gait"
    assert reason_words(texts, {"code": "face", "params": {"similarity": 0.81}}) == (
        "Faces alike (similarity 81%)"
    )


async def test_the_case_page_lists_its_matches_for_moderators_but_not_for_police(
    client, sessions, context
):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        police = await world.sign_in_as(session, "police_liaison")
        missing, found, _, _ = await _pair(session, context)
    world.use(client, moderator)
    page = (await client.get(f"/cases/{missing.ref}")).text
    assert "Possible matches" in page and f'href="/cases/{found.ref}"' in page
    assert "Nickname alike: mimi / mimi (100%)" in page
    world.use(client, police)
    page = await client.get(f"/cases/{missing.ref}")
    assert page.status_code == 200 and "Possible matches" not in page.text
