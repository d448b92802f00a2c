"""The tip page: claim on open, one decision with its audit and outbox rows, field-level policy
(EXIF GPS and originals never reach a plain moderator), photo routes, notes, headers.

Runs on SQLite and PostgreSQL through the real app (httpx + ASGITransport).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import (
    AuditEvent,
    CasePhoto,
    Decision,
    FaceEmbedding,
    FaceMatch,
    OutboxMessage,
    Tip,
    TipNote,
)
from storage.types import utcnow
from tests.web import dashboard_world as world


async def _audit(sessions, action):
    async with sessions() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return (await session.scalars(stmt)).all()


async def test_opening_a_tip_claims_it_and_shows_what_a_moderator_needs(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        case = await world.case(session)
        person = await world.tipster(session, promising_count=3, spam_count=1)
        row = await world.tip(
            session,
            case_id=case.id,
            tipster_id=person.id,
            lat=34.2612,
            lon=108.9424,
            place_text="Bell Tower, Xi'an",
            location_source="pin",
            seen_at=utcnow() - timedelta(hours=1),
            details={"answers": [{"at": utcnow().isoformat(), "text": "she had a blue bag"}]},
        )
    page = await world.use(client, signed).get(f"/tips/{row.ref}")
    assert page.status_code == 200
    html = page.text
    for shown in (
        "Claimed by you",
        "a child in a red coat",
        "Bell Tower, Xi&#39;an",
        "34.2612, 108.9424",
        person.pseudonym,
        "3 promising, 1 spam",
        "she had a blue bag",
        "km from the last-seen place",
        'data-tiles="https://tile.example.org/{z}/{x}/{y}.png"',
        f'action="/tips/{row.ref}/decide"',
    ):
        assert shown in html, shown
    async with sessions() as session:
        assert (await session.get(Tip, row.id)).claimed_by == signed.user.id
    [viewed] = await _audit(sessions, "tip.view")
    assert viewed.detail["fields"] == ["precise_location", "tipster_record"]


async def test_deciding_changes_the_tip_once_with_audit_and_outbox(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        person = await world.tipster(session)
        row = await world.tip(session, tipster_id=person.id)
    world.use(client, signed)
    await client.get(f"/tips/{row.ref}")

    first = await client.post(
        f"/tips/{row.ref}/decide",
        data={"csrf": signed.csrf, "outcome": "promising", "note": "matches the coat"},
    )
    second = await client.post(
        f"/tips/{row.ref}/decide", data={"csrf": signed.csrf, "outcome": "spam"}
    )

    assert first.status_code == 303
    assert first.headers["location"] == f"/queue?decided={row.ref}&outcome=promising"
    assert second.status_code == 409
    assert "Already decided" in second.text and "Nothing changed" in second.text
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        decisions = (await session.scalars(select(Decision))).all()
        outbox = (await session.scalars(select(OutboxMessage))).all()
    assert tip.status == "promising"
    assert [d.outcome for d in decisions] == ["promising"]
    assert [m.recipient for m in outbox] == [f"tipster:{person.id}"]
    assert [e.object_ref for e in await _audit(sessions, "tip.promising")] == [row.ref]
    assert await _audit(sessions, "tip.spam") == []
    assert "matches the coat" not in str(outbox[0].payload)  # the note stays with staff


async def test_a_question_needs_its_text_and_goes_to_the_tipster(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        row = await world.tip(session, tipster_id=(await world.tipster(session)).id)
    world.use(client, signed)
    empty = await client.post(
        f"/tips/{row.ref}/decide", data={"csrf": signed.csrf, "outcome": "needs_info"}
    )
    assert empty.status_code == 400 and "write the question" in empty.text
    asked = await client.post(
        f"/tips/{row.ref}/decide",
        data={"csrf": signed.csrf, "outcome": "needs_info", "question": "Which street?"},
    )
    assert asked.status_code == 303
    async with sessions() as session:
        assert (await session.get(Tip, row.id)).status == "needs_info"
        [message] = (await session.scalars(select(OutboxMessage))).all()
    assert "Which street?" in str(message.payload)


async def test_exif_gps_and_originals_never_reach_a_plain_moderator(client, sessions, context):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        senior = await world.sign_in_as(session, "senior_moderator")
        row = await world.tip(session, place_text="Xi'an")
        photo = await world.photo(session, context.photos, row, 200)
    original_sha = photo.row.original_sha256

    html = (await world.use(client, moderator).get(f"/tips/{row.ref}")).text
    assert f"/media/display/{photo.row.display_sha256}" in html
    for secret in (str(world.EXIF_LAT), str(world.EXIF_LON), "34.2613", "EXIF GPS"):
        assert secret not in html
    assert original_sha not in html and "/media/original" not in html
    assert "Pixel 8" not in html

    senior_html = (await world.use(client, senior).get(f"/tips/{row.ref}")).text
    assert f"{world.EXIF_LAT}, {world.EXIF_LON}" in senior_html
    assert f"/media/original/{original_sha}" in senior_html
    fields = [e.detail["fields"] for e in await _audit(sessions, "tip.view")]
    assert fields == [[], ["exif_gps", "original_photo"]]


async def test_a_tip_located_by_photo_gps_shows_only_a_coarse_area_to_a_moderator(client, sessions):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        row = await world.tip(
            session, lat=world.EXIF_LAT, lon=world.EXIF_LON, location_source="exif"
        )
    html = (await world.use(client, moderator).get(f"/tips/{row.ref}")).text
    assert "Area (coarse)" in html and "34.3, 108.9" in html
    assert str(world.EXIF_LAT) not in html


async def test_display_photos_are_served_only_for_tips_the_role_may_see(client, sessions, context):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        police = await world.sign_in_as(session, "police_liaison")
        auditor = await world.sign_in_as(session, "auditor")
        raw = await world.tip(session)  # not passed on: police do not see it
        vetted = await world.tip(session, status="promising")
        raw_photo = await world.photo(session, context.photos, raw, 100)
        vetted_photo = await world.photo(session, context.photos, vetted, 150)
    raw_url = f"/media/display/{raw_photo.row.display_sha256}"

    mod = await world.use(client, moderator).get(raw_url)
    assert mod.status_code == 200 and mod.content == raw_photo.display
    assert mod.headers["content-type"] == "image/jpeg"
    # The display route never hands out an original, whatever hash it is asked for.
    original = await client.get(f"/media/display/{raw_photo.row.original_sha256}")
    assert original.status_code == 404 and original.content != raw_photo.original
    assert (await client.get(f"/media/original/{raw_photo.row.original_sha256}")).status_code == 403

    world.use(client, police)
    assert (await client.get(raw_url)).status_code == 403
    assert (await client.get(f"/tips/{raw.ref}")).status_code == 403
    vetted_url = f"/media/display/{vetted_photo.row.display_sha256}"
    assert (await client.get(vetted_url)).content == vetted_photo.display
    assert (await world.use(client, auditor).get(vetted_url)).status_code == 403

    denied = await _audit(sessions, "access.denied")
    assert [(e.actor_id, e.object_type) for e in denied] == [
        (moderator.user.id, "route"),  # /media/original: field.original_photo
        (police.user.id, "photo"),
        (police.user.id, "tip"),
        (auditor.user.id, "route"),
    ]


async def test_an_original_is_a_download_for_the_roles_allowed_and_audited(
    client, sessions, context
):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
        row = await world.tip(session)
        photo = await world.photo(session, context.photos, row, 90)
    response = await world.use(client, senior).get(f"/media/original/{photo.row.original_sha256}")
    assert response.status_code == 200 and response.content == photo.original
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment")
    [event] = await _audit(sessions, "photo.original.view")
    assert (event.actor_id, event.object_ref) == (senior.user.id, row.ref)


async def test_face_matches_show_both_faces_from_display_copies(client, sessions, context):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        case = await world.case(session)
        row = await world.tip(session, case_id=case.id)
        photo = await world.photo(session, context.photos, row, 60)
        case_display = world.jpeg((10, 10, 200))
        case_photo = CasePhoto(
            case_id=case.id,
            original_sha256=context.photos.originals.put(world.jpeg((10, 10, 201), size=24)),
            display_sha256=context.photos.display.put(case_display),
        )
        session.add(case_photo)
        await session.flush()
        tip_face = FaceEmbedding(tip_photo_id=photo.row.id, vector=b"\0" * 512)
        case_face = FaceEmbedding(case_photo_id=case_photo.id, case_id=case.id, vector=b"\0" * 512)
        session.add_all([tip_face, case_face])
        await session.flush()
        session.add(
            FaceMatch(
                tip_face_id=tip_face.id,
                case_face_id=case_face.id,
                tip_id=row.id,
                case_id=case.id,
                similarity=0.82,
                distance=0.41,
            )
        )
        await session.commit()
    world.use(client, moderator)
    html = (await client.get(f"/tips/{row.ref}")).text
    assert "82% alike" in html
    assert f"/media/display/{case_photo.display_sha256}" in html
    case_image = await client.get(f"/media/display/{case_photo.display_sha256}")
    assert case_image.content == case_display


async def test_notes_are_kept_privately_and_audited_without_their_text(client, sessions):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        row = await world.tip(session)
    world.use(client, moderator)
    response = await client.post(
        f"/tips/{row.ref}/notes", data={"csrf": moderator.csrf, "text": "called the shop"}
    )
    assert response.status_code == 303
    assert "called the shop" in (await client.get(f"/tips/{row.ref}")).text
    [event] = await _audit(sessions, "tip.note")
    assert "called the shop" not in str(event.detail)
    async with sessions() as session:
        assert await session.scalar(select(func.count(TipNote.id))) == 1


async def test_dashboard_responses_carry_the_security_headers(client, sessions):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        row = await world.tip(session)
    world.use(client, moderator)
    for path in ("/login", "/queue", f"/tips/{row.ref}", "/cases", "/account"):
        headers = (await client.get(path)).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "img-src 'self' data: https://tile.example.org;" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
    page = (await client.get(f"/tips/{row.ref}")).text
    assert "<script>" not in page and " on" + "click=" not in page
    assert "<script " not in page.replace('<script src="/static/', "")  # only our own files


async def test_a_police_liaison_sees_passed_on_leads_with_precise_places(client, sessions):
    async with sessions() as session:
        police = await world.sign_in_as(session, "police_liaison")
        row = await world.tip(session, status="urgent", urgent=True, lat=34.2612, lon=108.9424)
    html = (await world.use(client, police).get(f"/tips/{row.ref}")).text
    assert "34.2612, 108.9424" in html
    assert 'id="decide"' not in html  # police do not decide tips
    assert (await client.get("/queue")).status_code == 403
