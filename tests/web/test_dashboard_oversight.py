"""The pages over the identity reveal and audit use cases: two senior moderators for a reveal,
the identity shown once; auditors read and export the trail, and the export is recorded.

Runs on SQLite and PostgreSQL through the real app (httpx + ASGITransport).
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from storage.models import AuditEvent, RevealRequest, TipsterIdentity
from tests.web import dashboard_world as world


async def _tip_with_identity(session, vault):
    tipster = await world.tipster(session)
    session.add(
        TipsterIdentity(
            tipster_id=tipster.id,
            lookup_hash=vault.lookup_hash("telegram", "777"),
            ciphertext=vault.seal({"chat_id": 777, "username": "seen_it", "first_name": "Mei"}),
        )
    )
    await session.commit()
    return await world.tip(session, tipster_id=tipster.id, status="urgent", urgent=True)


async def test_an_identity_is_revealed_only_by_a_second_senior_moderator(client, sessions, context):
    async with sessions() as session:
        asker = await world.sign_in_as(session, "senior_moderator", email="asker@example.org")
        approver = await world.sign_in_as(session, "senior_moderator")
        tip = await _tip_with_identity(session, context.vault)
    world.use(client, asker)
    tip_page = (await client.get(f"/tips/{tip.ref}")).text
    assert f'action="/tips/{tip.ref}/reveal"' in tip_page and "seen_it" not in tip_page
    asked = await client.post(
        f"/tips/{tip.ref}/reveal",
        data={"csrf": asker.csrf, "reason": "she may have seen the man's car plate"},
    )
    assert asked.status_code == 303
    async with sessions() as session:
        request_id = await session.scalar(select(RevealRequest.id))
    own = await client.post(f"/reveals/{request_id}/approve", data={"csrf": asker.csrf})
    assert own.status_code == 403 and "seen_it" not in own.text

    world.use(client, approver)
    listing = (await client.get("/reveals")).text
    assert "asker@example.org" in listing and "car plate" in listing
    shown = await client.post(f"/reveals/{request_id}/approve", data={"csrf": approver.csrf})
    again = await client.post(f"/reveals/{request_id}/approve", data={"csrf": approver.csrf})

    assert shown.status_code == 200
    assert "@seen_it" in shown.text and "Mei" in shown.text and "777" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert again.status_code == 409 and "seen_it" not in again.text
    async with sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("identity.reveal_requested") == 1
    assert actions.count("identity.reveal_approved") == 1


async def test_a_short_reason_is_refused(client, sessions, context):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
        tip = await _tip_with_identity(session, context.vault)
    response = await world.use(client, senior).post(
        f"/tips/{tip.ref}/reveal", data={"csrf": senior.csrf, "reason": "curious"}
    )
    assert response.status_code == 400
    async with sessions() as session:
        assert await session.scalar(select(RevealRequest.id)) is None


async def test_auditors_read_and_export_the_trail_and_the_export_is_recorded(client, sessions):
    async with sessions() as session:
        auditor = await world.sign_in_as(session, "auditor")
        moderator = await world.sign_in_as(session, "moderator")
        tip = await world.tip(session)
    await world.use(client, moderator).get(f"/tips/{tip.ref}")
    world.use(client, auditor)
    assert (await client.get("/login")).headers["location"] == "/audit"  # where auditors start

    page = (await client.get("/audit?action=tip.view")).text
    assert tip.ref in page and "moderator" in page
    assert tip.ref not in (await client.get("/audit?action=signin")).text

    export = await client.post("/audit/export", data={"csrf": auditor.csrf, "action": "tip.view"})
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["id", "at", "actor_id"] and [r[6] for r in rows[1:]] == [tip.ref]
    async with sessions() as session:
        recorded = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "audit.export")
        )
    assert recorded.actor_id == auditor.user.id
