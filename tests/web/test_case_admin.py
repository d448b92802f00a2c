"""Case administration pages: register, edit, move through the lifecycle, re-centre, contact.

Runs on SQLite and PostgreSQL. CASE_ADMIN_SAMPLES has one sample request per route here, in the
shape tests/web/test_policy_routes.py uses; the role matrix runs over them below.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from moderation.policy import can
from storage.models import AuditEvent, Case, CasePhoto, OutboxMessage
from storage.types import utcnow
from tests.s3server import gone_bucket, s3_stores
from tests.web import dashboard_world as world
from tests.web.dashboard_world import jpeg
from tests.web.test_policy_routes import Request
from web import csrf

FORM = {
    "kind": "missing",
    "full_name": "Wang Fang",
    "sex": "female",
    "age_years": "6",
    "description": "pink jacket",
    "last_seen_date": f"{utcnow() - timedelta(days=1):%Y-%m-%d}",
    "last_seen_time": "09:30",
    "last_seen_place": "Chengdu",
    "lat": "30.66",
    "lon": "104.06",
    "police_ref": "CD-2025-77",
    "contact": "father 139 1111 2222",
}


async def _submitted(session, **values: object) -> Case:
    return await world.case(session, status="submitted", police_ref="PSB-9", **values)


async def _new_page(session, signed, context):
    return Request("/cases/new")


async def _new(session, signed, context):
    return Request("/cases/new", {**FORM, "nonce": csrf.new_nonce(world.SECRET)})


async def _edit_page(session, signed, context):
    return Request(f"/cases/{(await _submitted(session)).ref}/edit")


async def _edit(session, signed, context):
    case = await _submitted(session)
    return Request(f"/cases/{case.ref}/edit", {**FORM, "full_name": "Li Wei Jr"})


async def _transition(session, signed, context):
    case = await _submitted(session)
    return Request(f"/cases/{case.ref}/transition", {"to": "verified", "reason": "checked"})


async def _recenter(session, signed, context):
    case = await world.case(session, status="active")
    tip = await world.tip(session, lat=34.3, lon=109.0, case_id=case.id)
    return Request(f"/cases/{case.ref}/recenter", {"tip": tip.ref})


async def _photos(session, signed, context):
    case = await _submitted(session, contact_ciphertext=context.vault.seal({"contact": "mum"}))
    return Request(
        f"/cases/{case.ref}/photos",
        {"photo_age_years": "4"},
        files=[("photos", ("li.jpg", jpeg((90, 60, 30)), "image/jpeg"))],
    )


async def _contact(session, signed, context):
    case = await _submitted(session, contact_ciphertext=context.vault.seal({"contact": "mum 1"}))
    return Request(f"/cases/{case.ref}/contact")


CASE_ADMIN_SAMPLES = {
    ("GET", "/cases/new"): _new_page,
    ("POST", "/cases/new"): _new,
    ("GET", "/cases/{ref}/edit"): _edit_page,
    ("POST", "/cases/{ref}/edit"): _edit,
    ("POST", "/cases/{ref}/transition"): _transition,
    ("POST", "/cases/{ref}/recenter"): _recenter,
    ("GET", "/cases/{ref}/contact"): _contact,
    ("POST", "/cases/{ref}/photos"): _photos,
}


def test_every_case_admin_route_declares_its_policy_action():
    from tests.web.test_policy_routes import ACTIONS

    assert {route: ACTIONS[route] for route in CASE_ADMIN_SAMPLES} == {
        ("GET", "/cases/new"): "case.create",
        ("POST", "/cases/new"): "case.create",
        ("GET", "/cases/{ref}/edit"): "case.edit",
        ("POST", "/cases/{ref}/edit"): "case.edit",
        ("POST", "/cases/{ref}/transition"): "case.transition",
        ("POST", "/cases/{ref}/recenter"): "case.recenter",
        ("GET", "/cases/{ref}/contact"): "case.contact_view",
        ("POST", "/cases/{ref}/photos"): "case.edit",
    }


async def _state(sessions) -> tuple[Any, ...]:
    async with sessions() as session:
        cases = (
            await session.execute(
                select(Case.id, Case.status, Case.full_name, Case.alert_lat).order_by(Case.id)
            )
        ).all()
        audit = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action != "access.denied")
        )
        return [tuple(c) for c in cases], audit


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        pytest.param(role, method, path, id=f"{role}-{method}-{path}")
        for method, path in sorted(CASE_ADMIN_SAMPLES)
        for role in world.ROLES
    ],
)
async def test_each_role_reaches_exactly_the_case_admin_routes_the_policy_allows(
    client, sessions, context, role, method, path
):
    from tests.web.test_policy_routes import ACTIONS

    action = ACTIONS[(method, path)]
    async with sessions() as session:
        signed = await world.sign_in_as(session, role)
        request = await CASE_ADMIN_SAMPLES[(method, path)](session, signed, context)
    before = await _state(sessions)
    world.use(client, signed)
    if request.data is None:
        response = await client.get(request.url)
    else:
        response = await client.post(
            request.url, data={**request.data, "csrf": signed.csrf}, files=request.files
        )
    if can(role, action):
        assert 200 <= response.status_code < 400, (role, action, response.text[:300])
        assert await _state(sessions) != before or method == "GET"
        return
    assert response.status_code == 403, (role, action, response.status_code)
    assert await _state(sessions) == before


async def test_a_moderator_registers_a_case_that_stays_private_until_verified(client, sessions):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
    world.use(client, mod)
    form = await client.get("/cases/new")
    assert form.status_code == 200 and 'name="nonce"' in form.text
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    data = {**FORM, "nonce": nonce, "csrf": mod.csrf}
    first = await client.post("/cases/new", data=data)
    again = await client.post("/cases/new", data=data)  # a double click
    assert first.status_code == 303 and again.headers["location"] == first.headers["location"]
    async with sessions() as session:
        cases = (await session.scalars(select(Case))).all()
    assert len(cases) == 1
    case = cases[0]
    assert (case.status, case.channel, case.submitted_by_staff_id) == (
        "submitted",
        "staff",
        mod.user.id,
    )
    assert case.last_seen_at is not None and f"{case.last_seen_at:%H:%M}" == "09:30"
    page = await client.get(first.headers["location"])
    assert "not public until a senior moderator" in page.text
    assert "father" not in page.text  # the contact is sealed, not on the page
    # A moderator may not verify: no lifecycle buttons for them.
    assert 'action="/cases/' + case.ref + '/transition"' not in page.text


async def test_a_bad_form_says_what_to_fix_and_keeps_what_was_typed(client, sessions):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
    world.use(client, mod)
    data = {
        **FORM,
        "birth_date": "04/03/2018",
        "contact": "",
        "nonce": csrf.new_nonce(world.SECRET),
    }
    response = await client.post("/cases/new", data={**data, "csrf": mod.csrf})
    assert response.status_code == 400
    assert "is not a date like 2018-03-04" in response.text
    assert 'value="Wang Fang"' in response.text
    response = await client.post("/cases/new", data={**data, "birth_date": "", "csrf": mod.csrf})
    assert response.status_code == 400 and "contact for the family is required" in response.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(Case.id))) == 0


async def test_a_senior_moderator_verifies_activates_and_closes_from_the_case_page(
    client, sessions
):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
        case = await world.case(session, status="submitted", police_ref=None)
    world.use(client, senior)
    page = await client.get(f"/cases/{case.ref}")
    assert 'value="verified"' in page.text and 'value="found"' not in page.text
    refused = await client.post(
        f"/cases/{case.ref}/transition", data={"to": "verified", "csrf": senior.csrf}
    )
    assert refused.status_code == 400 and "police report reference" in refused.text
    edited = await client.post(
        f"/cases/{case.ref}/edit",
        data={
            **FORM,
            "full_name": "Li Wei",
            "police_ref": "PSB-1",
            "csrf": senior.csrf,
        },
    )
    assert edited.status_code == 303
    for to in ("verified", "active", "closed"):
        response = await client.post(
            f"/cases/{case.ref}/transition", data={"to": to, "reason": "ok", "csrf": senior.csrf}
        )
        assert response.status_code == 303, response.text[:300]
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_ref == case.ref)
            )
        ).all()
    assert stored is not None and stored.status == "closed" and stored.police_ref == "PSB-1"
    assert {"case.edit", "case.verified", "case.active", "case.closed"} <= set(actions)


async def test_the_contact_page_shows_the_sealed_contact_and_is_audited_and_not_cached(
    client, sessions, context
):
    async with sessions() as session:
        police = await world.sign_in_as(session, "police_liaison")
        case = await _submitted(
            session, contact_ciphertext=context.vault.seal({"contact": "mum 1"})
        )
    world.use(client, police)
    response = await client.get(f"/cases/{case.ref}/contact")
    assert response.status_code == 200 and "mum 1" in response.text
    assert response.headers["cache-control"] == "no-store"
    async with sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "case.contact_view")
            )
        ).all()
    assert [(a.actor_id, a.object_ref) for a in audit] == [(police.user.id, case.ref)]


async def test_the_case_list_filters_by_status_and_kind(client, sessions):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
        await world.case(session, full_name="Active Missing", status="active")
        await world.case(session, full_name="Found Person", status="verified", kind="found")
        await world.case(session, full_name="Fresh One", status="submitted")
    world.use(client, mod)
    everything = await client.get("/cases")
    assert all(name in everything.text for name in ("Active Missing", "Found Person", "Fresh One"))
    active = await client.get("/cases?status=active")
    assert "Active Missing" in active.text and "Fresh One" not in active.text
    found = await client.get("/cases?kind=found")
    assert "Found Person" in found.text and "Active Missing" not in found.text


async def test_recentering_from_a_tip_moves_the_alert_centre(client, sessions):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
        case = await world.case(session, status="active")
        tip = await world.tip(session, lat=34.5, lon=109.2, case_id=case.id)
        bare = await world.tip(session)
    world.use(client, mod)
    refused = await client.post(
        f"/cases/{case.ref}/recenter", data={"tip": bare.ref, "csrf": mod.csrf}
    )
    assert refused.status_code == 400 and "no place" in refused.text
    response = await client.post(
        f"/cases/{case.ref}/recenter", data={"tip": tip.ref, "csrf": mod.csrf}
    )
    assert response.status_code == 303
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert stored is not None and (stored.alert_lat, stored.alert_lon) == (34.5, 109.2)


async def test_photos_added_on_the_case_page_wait_in_quarantine_and_bad_files_are_refused(
    client, sessions, context
):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
        case = await _submitted(session, contact_ciphertext=context.vault.seal({"contact": "dad"}))
    world.use(client, senior)
    page = await client.get(f"/cases/{case.ref}")
    assert "No photos yet." in page.text and f'action="/cases/{case.ref}/photos"' in page.text
    added = await client.post(
        f"/cases/{case.ref}/photos",
        data={"photo_age_years": "3", "photo_age_months": "6", "csrf": senior.csrf},
        files=[
            ("photos", ("a.jpg", jpeg((10, 20, 30)), "image/jpeg")),
            ("photos", ("b.jpg", jpeg((30, 20, 10)), "image/jpeg")),
        ],
    )
    assert added.status_code == 303, added.text.split("<p>")[1][:300]
    refused = await client.post(
        f"/cases/{case.ref}/photos",
        data={"csrf": senior.csrf, "photo_age_unknown": "1"},
        files=[("photos", ("notes.jpg", b"%PDF-1.7 not a photo", "image/jpeg"))],
    )
    assert refused.status_code == 400 and "notes.jpg" in refused.text
    no_age = await client.post(
        f"/cases/{case.ref}/photos",
        data={"csrf": senior.csrf},
        files=[("photos", ("c.jpg", jpeg((60, 20, 10)), "image/jpeg"))],
    )
    assert no_age.status_code == 400 and "Give the age in the photos" in no_age.text
    progressed = await client.post(
        f"/cases/{case.ref}/photos",
        data={"csrf": senior.csrf, "photo_kind": "age_progressed", "photo_age_years": "30"},
        files=[("photos", ("p.jpg", jpeg((70, 20, 10)), "image/jpeg"))],
    )
    assert progressed.status_code == 303
    async with sessions() as session:
        photos = (await session.scalars(select(CasePhoto).order_by(CasePhoto.id))).all()
        edits = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "case.edit"))
        ).all()
    assert [(p.status, p.kind, p.age_months, p.source_ref[:11]) for p in photos] == [
        ("quarantined", "photo", 42, "quarantine:"),
        ("quarantined", "photo", 42, "quarantine:"),
        ("quarantined", "age_progressed", 360, "quarantine:"),
    ]
    assert [e.detail["fields"] for e in edits] == [["photos"], ["photos"]]
    page = await client.get(f"/cases/{case.ref}")
    assert page.text.count(">quarantined<") == 3
    assert "Age-progressed image, about age 30" in page.text


async def test_a_photo_store_that_stops_answering_adds_nothing_and_says_so(
    client, sessions, context, s3
):
    # A real S3 server whose bucket is gone: every upload to quarantine fails.
    with s3_stores(gone_bucket(s3)) as stores:
        context.photos = stores
        async with sessions() as session:
            senior = await world.sign_in_as(session, "senior_moderator")
            case = await _submitted(session, contact_ciphertext=context.vault.seal({"c": "dad"}))
        world.use(client, senior)
        answer = await client.post(
            f"/cases/{case.ref}/photos",
            data={"photo_age_years": "3", "photo_age_months": "6", "csrf": senior.csrf},
            files=[("photos", ("a.jpg", jpeg((10, 20, 30)), "image/jpeg"))],
        )
    assert answer.status_code == 503 and "no photo was added" in answer.text
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CasePhoto)) == 0
