"""Forwarding pages through the real app: decide with a family summary (one commit with what it
sends), forward to the family later, family links shown once, police recipients, the liaison's
packet list and ZIP download (audited); every route refuses the roles the policy refuses.

Runs on SQLite and PostgreSQL. FORWARDING_SAMPLES has one sample request per route here, in the
shape tests/web/test_policy_routes.py uses.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from sqlalchemy import func, select

from moderation.policy import can
from storage.models import (
    AuditEvent,
    Decision,
    FamilyLink,
    Forward,
    OutboxMessage,
    PoliceRecipient,
    Subscription,
    Tip,
)
from tests.web import dashboard_world as world
from tests.web.test_policy_routes import Request

SUMMARY = "A girl who may be Li Na was seen with an adult near the station."


async def _family_member(session, case) -> Subscription:
    person = await world.tipster(session)
    row = Subscription(kind="family", tipster_id=person.id, case_id=case.id)
    session.add(row)
    await session.commit()
    return row


async def _lead(session, context, *, status="received"):
    """A case with a family member and an e-mail recipient, and a tip on it with a photo."""
    case = await world.case(session)
    await _family_member(session, case)
    creator = await world.staff(session, "senior_moderator")
    approver = await world.staff(session, "admin")
    session.add(
        PoliceRecipient(
            case_id=case.id,
            kind="email",
            address="duty@police.example.org",
            created_by=creator.id,
            approved_by=approver.id,
        )
    )
    tip = await world.tip(
        session,
        case_id=case.id,
        status=status,
        lat=34.2612,
        lon=108.9424,
        place_text="Xi'an, Shaanxi, China",
        location_source="pin",
        details={"place": {"label": "Xi'an, Shaanxi, China"}},
    )
    photo = await world.photo(session, context.photos, tip, 30)
    return case, tip, photo


def _post(client, signed, url: str, **data: str):
    return client.post(url, data={**data, "csrf": signed.csrf})


# --- one sample request per route (for the policy table tests) ---------------------------------


async def _forward_page(session, signed, context):
    _, tip, _ = await _lead(session, context)
    return Request(f"/tips/{tip.ref}/forward")


async def _forward_decide(session, signed, context):
    _, tip, _ = await _lead(session, context)
    return Request(f"/tips/{tip.ref}/forward/decide", {"outcome": "promising", "summary": SUMMARY})


async def _forward_family(session, signed, context):
    _, tip, _ = await _lead(session, context, status="promising")
    return Request(f"/tips/{tip.ref}/forward/family", {"summary": SUMMARY})


async def _packet(session, signed, context):
    _, tip, _ = await _lead(session, context, status="promising")
    return Request(f"/tips/{tip.ref}/packet.zip")


async def _packets(session, signed, context):
    return Request("/packets")


async def _case_forwarding(session, signed, context):
    case, _, _ = await _lead(session, context)
    return Request(f"/cases/{case.ref}/forwarding")


async def _family_link(session, signed, context):
    return Request(f"/cases/{(await world.case(session)).ref}/family-links", {})


async def _add_recipient(session, signed, context):
    case = await world.case(session)
    data = {"kind": "webhook", "address": "https://police.example.org/hook", "label": "unit 7"}
    return Request(f"/cases/{case.ref}/police-recipients", data)


async def _remove_recipient(session, signed, context):
    case, _, _ = await _lead(session, context)
    row = await session.scalar(select(PoliceRecipient))
    return Request(f"/cases/{case.ref}/police-recipients/{row.id}/remove", {})


async def _pending_webhook(session, context, *, approved: bool):
    case, _, _ = await _lead(session, context)
    creator = await world.staff(session, "senior_moderator")
    row = PoliceRecipient(
        case_id=case.id,
        kind="webhook",
        address="https://police.example.org/hook",
        created_by=creator.id,
        approved_by=creator.id if approved else None,
    )
    session.add(row)
    await session.commit()
    return case, row


async def _approve_recipient(session, signed, context):
    case, row = await _pending_webhook(session, context, approved=False)
    return Request(f"/cases/{case.ref}/police-recipients/{row.id}/approve", {})


async def _rotate_secret(session, signed, context):
    case, row = await _pending_webhook(session, context, approved=True)
    return Request(f"/cases/{case.ref}/police-recipients/{row.id}/rotate", {})


WEBHOOK_URL = "https://police.example.org/hook"

FORWARDING_SAMPLES = {
    ("GET", "/tips/{ref}/forward"): _forward_page,
    ("POST", "/tips/{ref}/forward/decide"): _forward_decide,
    ("POST", "/tips/{ref}/forward/family"): _forward_family,
    ("GET", "/tips/{ref}/packet.zip"): _packet,
    ("GET", "/packets"): _packets,
    ("GET", "/cases/{ref}/forwarding"): _case_forwarding,
    ("POST", "/cases/{ref}/family-links"): _family_link,
    ("POST", "/cases/{ref}/police-recipients"): _add_recipient,
    ("POST", "/cases/{ref}/police-recipients/{recipient_id}/remove"): _remove_recipient,
    ("POST", "/cases/{ref}/police-recipients/{recipient_id}/approve"): _approve_recipient,
    ("POST", "/cases/{ref}/police-recipients/{recipient_id}/rotate"): _rotate_secret,
}


def test_every_forwarding_route_declares_its_policy_action_and_has_a_sample():
    from tests.web.test_policy_routes import ACTIONS

    ours = {route: ACTIONS[route] for route in FORWARDING_SAMPLES}
    assert ours == {
        ("GET", "/tips/{ref}/forward"): "tip.decide",
        ("POST", "/tips/{ref}/forward/decide"): "tip.decide",
        ("POST", "/tips/{ref}/forward/family"): "tip.decide",
        ("GET", "/tips/{ref}/packet.zip"): "packet.download",
        ("GET", "/packets"): "packet.download",
        ("GET", "/cases/{ref}/forwarding"): "case.manage",
        ("POST", "/cases/{ref}/family-links"): "case.manage",
        ("POST", "/cases/{ref}/police-recipients"): "case.manage",
        ("POST", "/cases/{ref}/police-recipients/{recipient_id}/remove"): "case.manage",
        (
            "POST",
            "/cases/{ref}/police-recipients/{recipient_id}/approve",
        ): "police.recipient_approve",
        ("POST", "/cases/{ref}/police-recipients/{recipient_id}/rotate"): "case.manage",
    }


async def _state(sessions) -> tuple[Any, ...]:
    async with sessions() as session:
        counts = [
            await session.scalar(select(func.count(model.id)))
            for model in (Decision, Forward, OutboxMessage, FamilyLink)
        ]
        recipients = (
            await session.execute(
                select(
                    PoliceRecipient.id,
                    PoliceRecipient.active,
                    PoliceRecipient.approved_by,
                    PoliceRecipient.secret_generation,
                )
            )
        ).all()
        tips = (await session.execute(select(Tip.id, Tip.status))).all()
        audit = await session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action != "access.denied")
        )
        return counts, sorted(recipients), sorted(tips), audit


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        pytest.param(role, method, path, id=f"{role}-{method}-{path}")
        for method, path in sorted(FORWARDING_SAMPLES)
        for role in world.ROLES
    ],
)
async def test_each_role_reaches_exactly_the_forwarding_routes_the_policy_allows(
    client, sessions, context, role, method, path
):
    from tests.web.test_policy_routes import ACTIONS

    action = ACTIONS[(method, path)]
    async with sessions() as session:
        signed = await world.sign_in_as(session, role)
        request = await FORWARDING_SAMPLES[(method, path)](session, signed, context)
    before = await _state(sessions)
    world.use(client, signed)
    if request.data is None:
        response = await client.get(request.url)
    else:
        response = await _post(client, signed, request.url, **request.data)
    if can(role, action):
        assert 200 <= response.status_code < 400, (role, action, response.text[:300])
        return
    assert response.status_code == 403, (role, action, response.status_code)
    assert await _state(sessions) == before


# --- pages -------------------------------------------------------------------------------------


async def test_deciding_with_a_summary_forwards_to_family_and_police_in_one_go(
    client, sessions, context
):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        _, tip, photo = await _lead(session, context)
    world.use(client, signed)
    page = await client.get(f"/tips/{tip.ref}/forward")
    assert page.status_code == 200
    assert 'value="Xi&#39;an, Shaanxi, China"' in page.text  # the suggested coarse place
    assert photo.row.display_sha256 in page.text and photo.row.original_sha256 not in page.text
    response = await _post(
        client,
        signed,
        f"/tips/{tip.ref}/forward/decide",
        outcome="promising",
        summary=SUMMARY,
        coarse_place="Xi'an",
        photo=photo.row.display_sha256,
    )
    assert (
        response.status_code == 303 and response.headers["location"] == f"/tips/{tip.ref}/forward"
    )
    async with sessions() as session:
        forwards = (await session.scalars(select(Forward).order_by(Forward.id))).all()
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert [f.audience for f in forwards] == ["family", "police"]
    assert forwards[0].include_photo_sha == photo.row.display_sha256
    assert {r.channel for r in rows} == {"email", "telegram"}  # the family lead, the packet
    after = await client.get(f"/tips/{tip.ref}/forward")
    assert SUMMARY in after.text and "duty@police.example.org" not in after.text
    assert "police:" in after.text and "pending" in after.text
    assert "that's my child 0" in after.text


async def test_a_summary_with_coordinates_is_refused_and_nothing_changes(client, sessions, context):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        _, tip, _ = await _lead(session, context)
    world.use(client, signed)
    before = await _state(sessions)
    response = await _post(
        client,
        signed,
        f"/tips/{tip.ref}/forward/decide",
        outcome="promising",
        summary="Seen at 34.26123, 108.94245 near the station today.",
    )
    assert response.status_code == 400 and "coordinates" in response.text
    assert await _state(sessions) == before


async def test_a_promising_lead_without_a_summary_is_forwarded_to_the_family_later(
    client, sessions, context
):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        _, tip, _ = await _lead(session, context)
    world.use(client, signed)
    await _post(client, signed, f"/tips/{tip.ref}/forward/decide", outcome="promising")
    page = await client.get(f"/tips/{tip.ref}/forward")
    assert "Forward to the family" in page.text
    empty = await _post(client, signed, f"/tips/{tip.ref}/forward/family", summary="")
    assert empty.status_code == 400
    done = await _post(client, signed, f"/tips/{tip.ref}/forward/family", summary=SUMMARY)
    assert done.status_code == 303
    again = await _post(client, signed, f"/tips/{tip.ref}/forward/family", summary=SUMMARY)
    assert again.status_code == 400 and "already" in again.text
    async with sessions() as session:
        audiences = (await session.scalars(select(Forward.audience).order_by(Forward.id))).all()
    assert audiences == ["police", "family"]


async def test_a_family_link_is_shown_once_and_only_its_hash_is_kept(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "senior_moderator")
        case = await world.case(session)
    world.use(client, signed)
    response = await _post(client, signed, f"/cases/{case.ref}/family-links")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    code = re.search(r"start=family_([A-Z2-9]{16})", response.text).group(1)
    assert "never asks for money" in response.text
    assert "wa.me" not in response.text  # no WhatsApp display number set
    async with sessions() as session:
        [link] = (await session.scalars(select(FamilyLink))).all()
    assert code not in link.code_hash
    page = await client.get(f"/cases/{case.ref}/forwarding")
    assert "1 unused family link" in page.text and code not in page.text


async def test_police_recipients_are_added_checked_and_removed(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "senior_moderator")
        case = await world.case(session)
    world.use(client, signed)
    url = f"/cases/{case.ref}/police-recipients"
    bad = await _post(client, signed, url, kind="webhook", address="http://police.example.org/")
    assert bad.status_code == 400 and "https" in bad.text
    ok = await _post(client, signed, url, kind="email", address="duty@police.example.org", label="")
    assert ok.status_code == 303
    async with sessions() as session:
        row = await session.scalar(select(PoliceRecipient))
    page = await client.get(f"/cases/{case.ref}/forwarding")
    assert "duty@police.example.org" in page.text
    gone = await _post(client, signed, f"{url}/{row.id}/remove")
    assert gone.status_code == 303
    async with sessions() as session:
        assert (await session.get(PoliceRecipient, row.id)).active is False
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert {"police.recipient_added", "police.recipient_removed"} <= set(actions)


async def test_a_webhook_secret_is_shown_once_and_a_second_senior_must_approve(client, sessions):
    async with sessions() as session:
        adder = await world.sign_in_as(session, "senior_moderator")
        second = await world.sign_in_as(session, "senior_moderator")
        case = await world.case(session)
    world.use(client, adder)
    url = f"/cases/{case.ref}/police-recipients"
    shown = await _post(client, adder, url, kind="webhook", address=WEBHOOK_URL, label="unit 7")
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", shown.text).group(0)
    async with sessions() as session:
        row = await session.scalar(select(PoliceRecipient))
    page = await client.get(f"/cases/{case.ref}/forwarding")
    assert "pending approval" in page.text and secret not in page.text
    assert f"{row.id}/approve" not in page.text  # the adder is offered no approval
    own = await _post(client, adder, f"{url}/{row.id}/approve")
    assert own.status_code == 409 and "someone else must approve" in own.text
    world.use(client, second)
    assert f"{row.id}/approve" in (await client.get(f"/cases/{case.ref}/forwarding")).text
    approved = await _post(client, second, f"{url}/{row.id}/approve")
    assert approved.status_code == 303
    again = await _post(client, second, f"{url}/{row.id}/approve")
    assert again.status_code == 409 and "already approved" in again.text
    rotated = await _post(client, second, f"{url}/{row.id}/rotate")
    new_secret = re.search(r"whsec_[A-Za-z0-9+/=]+", rotated.text).group(0)
    assert new_secret != secret and "keeps working until" in rotated.text
    async with sessions() as session:
        row = await session.get(PoliceRecipient, row.id)
        actions = (await session.scalars(select(AuditEvent.action))).all()
        details = (await session.scalars(select(AuditEvent.detail))).all()
    assert row.approved_by == second.user.id
    assert {"police.recipient_added", "police.recipient_approved", "police.secret_rotated"} <= set(
        actions
    )
    assert not any(secret in str(d) or new_secret in str(d) for d in details)


async def test_webhook_urls_with_credentials_or_without_https_get_a_clear_refusal(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "senior_moderator")
        case = await world.case(session)
    world.use(client, signed)
    url = f"/cases/{case.ref}/police-recipients"
    for address, says in [
        ("https://user:pw@police.example.org/hook", "user name or password"),
        ("http://police.example.org/hook", "https"),
        ("https://10.0.0.1/hook", "private, local or reserved"),
    ]:
        response = await _post(client, signed, url, kind="webhook", address=address)
        assert response.status_code == 400 and says in response.text
        assert "Nothing was added" in response.text and "Traceback" not in response.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(PoliceRecipient.id))) == 0


async def test_the_police_liaison_lists_and_downloads_packets_and_each_download_is_audited(
    client, sessions, context
):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
        police = await world.sign_in_as(session, "police_liaison")
        _, tip, photo = await _lead(session, context)
    world.use(client, mod)
    await _post(client, mod, f"/tips/{tip.ref}/forward/decide", outcome="urgent")
    world.use(client, police)
    listing = await client.get("/packets")
    assert listing.status_code == 200 and tip.ref in listing.text and "urgent" in listing.text
    response = await client.get(f"/tips/{tip.ref}/packet.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    assert f'filename="tipline-packet-{tip.ref}.D' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    document = json.loads(archive.read("packet.json"))
    assert document["photos"][0]["exif"]["lat"] == world.EXIF_LAT
    assert archive.read(f"files/original/{photo.row.original_sha256}.bin") == photo.original
    async with sessions() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "packet.download"))
        ).all()
    assert [(e.actor_id, e.object_ref) for e in events] == [(police.user.id, tip.ref)]


async def test_a_tip_not_passed_on_has_no_packet_for_the_police(client, sessions, context):
    async with sessions() as session:
        police = await world.sign_in_as(session, "police_liaison")
        _, tip, _ = await _lead(session, context)
    world.use(client, police)
    response = await client.get(f"/tips/{tip.ref}/packet.zip")
    assert response.status_code == 403
