"""Forwarding rules: a promising or urgent decision and everything it passes on commit together,
once; families get only a vetted summary; police get the whole packet; feedback comes back.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.delivery.outbox import Outgoing
from core.delivery.packets import FORMAT, read_files
from core.delivery.webhook_targets import TargetRules
from core.errors import InvalidInput, NotFound, RateLimited
from core.i18n import Texts
from core.limits import MemoryRateLimiter
from moderation.cases.families import create_family_link, link_family, set_muted
from moderation.forwarding import police_recipients
from moderation.forwarding.family_leads import feedback_buttons
from moderation.forwarding.forward import (
    FamilyLead,
    answer_lead,
    forward_to_family,
    forwards_of,
    suggested_place,
)
from moderation.forwarding.police import OnCallPager, download_packet
from moderation.forwarding.police_recipients import approve_recipient, deactivate_recipient
from moderation.review import decisions
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from storage.models import (
    AuditEvent,
    Case,
    FamilyFeedback,
    FamilyLink,
    Forward,
    OutboxMessage,
    Subscription,
    Tip,
    TipPhoto,
    Tipster,
    TipsterIdentity,
)
from storage.photostore import open_photo_stores
from storage.types import utcnow
from tests.moderation import factories
from tests.web.dashboard_world import jpeg

TIP_TEXT = "I saw a small girl in a red coat crying next to a grey van on Lianhu Road"
LAT, LON = 34.261234, 108.942345
EXIF_LAT, EXIF_LON = 34.265432, 108.954321
SUMMARY = "A girl matching the description was seen with an adult near a van."


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


async def forwarding_world(session, stores, *, recipients=True):
    senior = await factories.staff(session, "senior_moderator")
    mod = await factories.staff(session, "moderator")
    case = Case(full_name="Li Na", status="verified", police_ref="XA-2026-17")
    session.add(case)
    await session.commit()
    person = await _person(session)
    session.add(
        TipsterIdentity(tipster_id=person.id, lookup_hash="h" * 64, ciphertext=b"sealed-identity")
    )
    tip = await factories.tip(
        session,
        text=TIP_TEXT,
        tipster=person,
        case_id=case.id,
        lat=LAT,
        lon=LON,
        place_text="Xi'an, Shaanxi, China",
        location_source="pin",
        seen_at=utcnow() - timedelta(hours=1),
        score=71.0,
        score_parts={"version": 1, "score": 71.0, "parts": [{"name": "base", "points": 20}]},
        details={"place": {"source": "pin", "label": "Xi'an, Shaanxi, China"}},
    )
    original, display = jpeg((200, 10, 10), size=24), jpeg((200, 10, 10))
    photo = TipPhoto(
        tip_id=tip.id,
        status="processed",
        mime_type="image/jpeg",
        original_sha256=stores.originals.put(original),
        display_sha256=stores.display.put(display),
        exif_lat=EXIF_LAT,
        exif_lon=EXIF_LON,
        camera="Pixel 8",
    )
    session.add(photo)
    await session.commit()
    if recipients:
        await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="email",
            address="duty@police.example.org",
            label="Duty desk",
        )
        await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="webhook",
            address="https://police.example.org/hook",
            label="",
        )
    return senior, mod, case, person, tip, photo


async def add_recipient(session, *, staff, case_ref, rules=None, **fields):
    """A recipient added by `staff` and approved by a second senior moderator (two people)."""
    new = await police_recipients.add_recipient(
        session, staff=staff, case_ref=case_ref, rules=rules or TargetRules(), **fields
    )
    if new.recipient.approved_by is None:
        email = f"approver-{secrets.token_hex(6)}@example.org"
        second = await factories.staff(session, "senior_moderator", email=email)
        await approve_recipient(
            session, staff=second, case_ref=case_ref, recipient_id=new.recipient.id
        )
    return new.recipient


async def family_members(session, senior, case, chat_ids):
    """Family members linked through real one-time codes."""
    members = []
    for _ in chat_ids:
        code = await create_family_link(session, staff=senior, case_ref=case.ref)
        person = await _person(session)
        await link_family(session, tipster=person, code=code.code, limiter=MemoryRateLimiter())
        members.append(person)
    return members


async def _person(session):
    """A pseudonymous person (tipster or family member)."""
    row = Tipster(pseudonym=f"T-{secrets.token_hex(4).upper()}", language="en")
    session.add(row)
    await session.commit()
    return row


async def _rows(session, model):
    return (await session.scalars(select(model).order_by(model.id))).all()


# --- promising ---------------------------------------------------------------------------------


async def test_promising_with_a_summary_reaches_family_and_police_in_the_decisions_commit(
    sessions, stores
):
    async with sessions() as session:
        senior, mod, case, _, tip, photo = await forwarding_world(session, stores)
        mother, father = await family_members(session, senior, case, [1, 2])
        await decide(
            session,
            staff=mod,
            tip_ref=tip.ref,
            outcome=Outcome.PROMISING,
            family=FamilyLead(
                summary=SUMMARY, coarse_place="", include_photo_sha=photo.display_sha256
            ),
        )
    async with sessions() as session:
        forwards = await _rows(session, Forward)
        rows = await _rows(session, OutboxMessage)
        actions = [e.action for e in await _rows(session, AuditEvent)]
    assert [(f.audience, f.decision_id is not None) for f in forwards] == [
        ("family", True),
        ("police", True),
    ]
    family, police = forwards
    assert family.coarse_place == "Xi'an, Shaanxi, China"  # the suggested coarse label
    by_recipient = {r.recipient: r for r in rows}
    assert {f"tipster:{mother.id}", f"tipster:{father.id}"} <= set(by_recipient)
    lead = by_recipient[f"tipster:{mother.id}"].payload
    assert lead["method"] == "sendPhoto" and lead["protect_content"] is True
    assert lead["display_sha256"] == photo.display_sha256
    for secret in (TIP_TEXT, "34.26", "108.94", "Lianhu", "T-", "sealed"):
        assert secret not in json.dumps(lead)
    assert SUMMARY in lead["caption"] and "Li Na" in lead["caption"]
    assert "Xi'an" in lead["caption"]
    police_rows = [r for r in rows if r.recipient.startswith("police:")]
    assert sorted(r.channel for r in police_rows) == ["email", "webhook"]
    assert all(
        r.payload == {"kind": "police_packet", "forward_id": police.id, "urgent": False}
        for r in police_rows
    )
    assert {"forward.family", "forward.police", "tip.promising"} <= set(actions)


async def test_the_police_packet_holds_the_evidence_and_never_the_identity(sessions, stores):
    async with sessions() as session:
        _, mod, case, person, tip, photo = await forwarding_world(session, stores)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING, note="checked")
        police = await session.scalar(select(Forward).where(Forward.audience == "police"))
    packet = police.packet
    assert packet["format"] == FORMAT and packet["version"] == 1
    assert packet["packet_id"] == f"{tip.ref}.F{police.id}"
    assert packet["case"]["ref"] == case.ref and packet["case"]["police_ref"] == "XA-2026-17"
    assert packet["tip"]["text"] == TIP_TEXT
    assert (packet["tip"]["place"]["lat"], packet["tip"]["place"]["lon"]) == (LAT, LON)
    [entry] = packet["photos"]
    assert (entry["exif"]["lat"], entry["exif"]["lon"]) == (EXIF_LAT, EXIF_LON)
    assert entry["original"]["sha256"] == photo.original_sha256
    assert entry["display"]["sha256"] == photo.display_sha256
    assert packet["score"]["score"] == 71.0 and packet["score"]["parts"][0]["name"] == "base"
    [trail] = packet["decisions"]
    assert (trail["outcome"], trail["staff_role"], trail["note"]) == (
        "promising",
        "moderator",
        "checked",
    )
    assert packet["tipster"]["pseudonym"] == person.pseudonym
    assert "sealed" not in json.dumps(packet) and "lookup_hash" not in json.dumps(packet)
    files = read_files(packet, stores)
    assert [(f.kind, f.sha256, f.data is not None) for f in files] == [
        ("original", photo.original_sha256, True),
        ("display", photo.display_sha256, True),
    ]


async def test_promising_without_a_summary_waits_for_a_moderator_to_forward_it_to_the_family(
    sessions, stores
):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores)
        [mother] = await family_members(session, senior, case, [1])
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        assert not [
            r for r in await _rows(session, OutboxMessage) if r.recipient == f"tipster:{mother.id}"
        ]
        done = await forward_to_family(
            session,
            staff=mod,
            tip_ref=tip.ref,
            lead=FamilyLead(summary=SUMMARY, coarse_place="Xi'an"),
        )
        with pytest.raises(InvalidInput, match="already"):
            await forward_to_family(
                session, staff=mod, tip_ref=tip.ref, lead=FamilyLead(summary=SUMMARY)
            )
    async with sessions() as session:
        family = await session.get(Forward, done.forward_id)
        [lead] = [
            r for r in await _rows(session, OutboxMessage) if r.recipient == f"tipster:{mother.id}"
        ]
    assert family.audience == "family" and family.decision_id is not None
    assert lead.payload["method"] == "sendMessage" and lead.payload["protect_content"] is True
    assert lead.idempotency_key.startswith(f"forward:{family.id}:family:")


async def test_a_muted_family_member_is_skipped_and_the_audit_says_so(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        mother, father = await family_members(session, senior, case, [1, 2])
        assert await set_muted(session, tipster=father, muted=True) == 1
        await decide(
            session,
            staff=mod,
            tip_ref=tip.ref,
            outcome=Outcome.PROMISING,
            family=FamilyLead(summary=SUMMARY),
        )
        recipients = [r.recipient for r in await _rows(session, OutboxMessage)]
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "forward.family")
        )
    assert f"tipster:{mother.id}" in recipients and f"tipster:{father.id}" not in recipients
    assert (event.detail["queued"], event.detail["muted"]) == (1, 1)


@pytest.mark.parametrize(
    ("lead", "message"),
    [
        (FamilyLead(summary="short"), "summary of"),
        (FamilyLead(summary=SUMMARY, coarse_place="34.2612, 108.9423"), "coordinates"),
        (FamilyLead(summary=f"{SUMMARY} at 34.26123 108.94234"), "coordinates"),
        (FamilyLead(summary=f"Tipster said: {TIP_TEXT}"), "own words"),
        (FamilyLead(summary=SUMMARY, include_photo_sha="a" * 64), "processed photos"),
    ],
)
async def test_a_family_lead_that_would_say_too_much_refuses_the_whole_decision(
    sessions, stores, lead, message
):
    async with sessions() as session:
        _, mod, _, _, tip, _ = await forwarding_world(session, stores)
        with pytest.raises(InvalidInput, match=message):
            await decide(
                session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING, family=lead
            )
    async with sessions() as session:
        assert (await session.get(Tip, tip.id)).status == "received"
        assert await session.scalar(select(func.count(Forward.id))) == 0
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0


async def test_the_tipsters_pseudonym_never_goes_into_a_family_summary(sessions, stores):
    async with sessions() as session:
        _, mod, _, person, tip, _ = await forwarding_world(session, stores)
        lead = FamilyLead(summary=f"{SUMMARY} Reported by {person.pseudonym}.")
        with pytest.raises(InvalidInput, match="who sent"):
            await decide(
                session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING, family=lead
            )


async def test_a_failure_before_commit_leaves_no_decision_no_forward_and_no_message(
    sessions, stores, monkeypatch
):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores)
        await family_members(session, senior, case, [1])
        tip_ref = tip.ref

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(decisions, "staff_action", broken)
    async with sessions() as session:
        with pytest.raises(RuntimeError):
            await decide(
                session,
                staff=await session.get(type(mod), mod.id),
                tip_ref=tip_ref,
                outcome=Outcome.URGENT,
                family=FamilyLead(summary=SUMMARY),
            )
    async with sessions() as session:
        assert (await session.get(Tip, tip.id)).status == "received"
        assert await session.scalar(select(func.count(Forward.id))) == 0
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0


async def test_a_lead_goes_to_police_once_however_often_it_is_decided(sessions, stores):
    async with sessions() as session:
        _, mod, _, _, tip, _ = await forwarding_world(session, stores)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        with pytest.raises(AlreadyDecided):
            await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.URGENT)
        assert await session.scalar(select(func.count(Forward.id))) == 1
        police = select(func.count(OutboxMessage.id)).where(
            OutboxMessage.recipient.like("police:%")
        )
        assert await session.scalar(police) == 2


# --- urgent ------------------------------------------------------------------------------------


async def test_urgent_sends_the_packet_and_pages_on_call_at_once(sessions, stores):
    async with sessions() as session:
        _, mod, case, _, tip, _ = await forwarding_world(session, stores)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.URGENT)
        rows = await _rows(session, OutboxMessage)
        actions = {e.action for e in await _rows(session, AuditEvent)}
    [page] = [r for r in rows if r.channel == "oncall"]
    assert page.payload["kind"] == "page" and page.payload["link"] == f"/tips/{tip.ref}"
    assert "URGENT" in page.payload["text"] and case.ref in page.payload["text"]
    assert "2 police recipient" in page.payload["text"]
    assert str(LAT)[:6] not in page.payload["text"] and TIP_TEXT not in page.payload["text"]
    assert all(r.payload.get("urgent") for r in rows if r.recipient.startswith("police:"))
    assert {"forward.police", "forward.oncall", "tip.urgent"} <= actions


async def test_the_on_call_pager_fans_out_once_even_when_retried(sessions):
    async with sessions() as session:
        from moderation.forwarding.police import page_oncall

        await page_oncall(
            session, key="decision:1:oncall", subject="URGENT", text="t", link="/tips/X"
        )
        await session.commit()
        row = await session.scalar(select(OutboxMessage))
    pager = OnCallPager(
        sessions=sessions,
        chat_id=-100123,
        emails=["a@duty.example.org", "b@duty.example.org"],
        base_url="https://tipline.example.org/",
    )
    message = Outgoing(row.id, row.idempotency_key, row.channel, row.recipient, row.payload, 0)
    assert (await pager.send(message)).kind == "sent"
    assert (await pager.send(message)).kind == "sent"  # a retry after a lost mark
    async with sessions() as session:
        rows = [r for r in await _rows(session, OutboxMessage) if r.channel != "oncall"]
    assert sorted(r.recipient for r in rows) == [
        "chat:-100123",
        "email:a@duty.example.org",
        "email:b@duty.example.org",
    ]
    assert all("https://tipline.example.org/tips/X" in json.dumps(r.payload) for r in rows)
    nobody = OnCallPager(sessions=sessions, chat_id=None, emails=[])
    outcome = await nobody.send(message)
    assert outcome.kind == "permanent" and "TIPLINE_ONCALL" in outcome.reason


# --- families ----------------------------------------------------------------------------------


async def test_a_family_code_links_once_and_expires(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, _, _ = await forwarding_world(session, stores, recipients=False)
        with pytest.raises(PermissionError):
            await create_family_link(session, staff=mod, case_ref=case.ref)
        code = await create_family_link(session, staff=senior, case_ref=case.ref)
        assert code.start_payload == f"family_{code.code}" and len(code.start_payload) <= 64
        first, second = await _person(session), await _person(session)
        limiter = MemoryRateLimiter()
        linked = await link_family(session, tipster=first, code=code.code.lower(), limiter=limiter)
        assert (linked.case_ref, linked.already) == (case.ref, False)
        with pytest.raises(InvalidInput):
            await link_family(session, tipster=second, code=code.code, limiter=limiter)
        old = await create_family_link(session, staff=senior, case_ref=case.ref)
        link = await session.scalar(select(FamilyLink).order_by(FamilyLink.id.desc()))
        link.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
        with pytest.raises(InvalidInput):
            await link_family(session, tipster=second, code=old.code, limiter=limiter)
        [sub] = await _rows(session, Subscription)
        assert (sub.kind, sub.tipster_id, sub.case_id) == ("family", first.id, case.id)
        hashes = [link.code_hash for link in await _rows(session, FamilyLink)]
        assert code.code not in json.dumps(hashes)
        actions = [e.action for e in await _rows(session, AuditEvent)]
    assert actions.count("family.link_created") == 2 and actions.count("family.linked") == 1


async def test_guessing_family_codes_is_slowed_down(sessions):
    async with sessions() as session:
        person = await _person(session)
        limiter = MemoryRateLimiter()
        for _ in range(5):
            with pytest.raises(InvalidInput):
                await link_family(session, tipster=person, code="WRONGCODE", limiter=limiter)
        with pytest.raises(RateLimited):
            await link_family(session, tipster=person, code="WRONGCODE", limiter=limiter)


async def test_family_feedback_lands_on_the_tip_pages_on_call_for_mine_and_is_audited(
    sessions, stores
):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        mother, father = await family_members(session, senior, case, [1, 2])
        stranger = await _person(session)
        await decide(
            session,
            staff=mod,
            tip_ref=tip.ref,
            outcome=Outcome.PROMISING,
            family=FamilyLead(summary=SUMMARY),
        )
        family = await session.scalar(select(Forward).where(Forward.audience == "family"))
        await answer_lead(session, tipster=mother, forward_id=family.id, answer="unsure")
        await answer_lead(session, tipster=mother, forward_id=family.id, answer="mine")
        await answer_lead(session, tipster=mother, forward_id=family.id, answer="mine")
        await answer_lead(session, tipster=father, forward_id=family.id, answer="not_mine")
        with pytest.raises(NotFound):
            await answer_lead(session, tipster=stranger, forward_id=family.id, answer="mine")
        with pytest.raises(InvalidInput):
            await answer_lead(session, tipster=mother, forward_id=family.id, answer="maybe")
    async with sessions() as session:
        answers = [(f.subscription_id, f.answer) for f in await _rows(session, FamilyFeedback)]
        tip_row = await session.get(Tip, tip.id)
        pages = [r for r in await _rows(session, OutboxMessage) if r.channel == "oncall"]
        feedback_events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "family.feedback"))
        ).all()
        [view] = [
            v for v in await forwards_of(session, tip_id=tip.id) if v.forward.audience == "family"
        ]
    assert [a for _, a in answers] == ["mine", "not_mine"]
    counts = tip_row.details["family_feedback"]
    assert (counts["mine"], counts["not_mine"], counts["unsure"]) == (1, 1, 0)
    assert view.feedback == {"mine": 1, "not_mine": 1, "unsure": 0}
    assert len(pages) == 1 and tip.ref in pages[0].payload["text"]
    assert [e.detail["answer"] for e in feedback_events] == ["unsure", "mine", "not_mine"]


def test_feedback_buttons_fit_telegrams_callback_limit_in_every_language():
    for language in ("en", "zh-Hans"):
        rows = feedback_buttons(Texts(language), 2**31)
        data = [d for row in rows for _, d in row]
        answers = ("mine", "not_mine", "unsure", "scam")
        assert data == [f"fam:{2**31}:{answer}" for answer in answers]
        assert all(len(d.encode()) <= 64 for d in data)


async def test_a_typed_place_that_matched_no_city_is_never_suggested(sessions):
    async with sessions() as session:
        typed = await factories.tip(
            session,
            place_text="behind the school on 5th street",
            location_source="typed",
            details={"place": {"source": "typed", "text": "behind the school on 5th street"}},
        )
        city = await factories.tip(
            session,
            place_text="Xi'an, Shaanxi, China",
            location_source="typed",
            details={
                "place": {"source": "typed", "text": "xian", "label": "Xi'an, Shaanxi, China"}
            },
        )
    assert suggested_place(typed) is None
    assert suggested_place(city) == "Xi'an, Shaanxi, China"


# --- police ------------------------------------------------------------------------------------


async def test_police_recipients_are_for_senior_moderators_and_checked(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        with pytest.raises(PermissionError):
            await add_recipient(
                session, staff=mod, case_ref=case.ref, kind="email", address="a@b.org", label=""
            )
        for kind, address in [
            ("email", "not an address"),
            ("webhook", "http://police.example.org/hook"),
            ("webhook", "ftp://police.example.org/"),
            ("webhook", "https://user:pw@police.example.org/"),
            ("fax", "123"),
        ]:
            with pytest.raises(InvalidInput):
                await add_recipient(
                    session, staff=senior, case_ref=case.ref, kind=kind, address=address, label=""
                )
        kept = await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="email",
            address="a@police.example.org",
            label="",
        )
        gone = await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="webhook",
            address="http://127.0.0.1:9/hook",
            label="",
            rules=TargetRules.build(exempt=["127.0.0.1:9"]),
        )
        await deactivate_recipient(session, staff=senior, case_ref=case.ref, recipient_id=gone.id)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        recipients = [r.recipient for r in await _rows(session, OutboxMessage)]
    assert [r for r in recipients if r.startswith("police:")] == [f"police:{kept.id}"]


async def test_the_police_liaison_downloads_the_packet_as_a_zip_and_it_is_audited(sessions, stores):
    async with sessions() as session:
        _, mod, _, _, tip, photo = await forwarding_world(session, stores)
        police = await factories.staff(session, "police_liaison")
        with pytest.raises(PermissionError):
            await download_packet(session, staff=mod, tip_ref=tip.ref, stores=stores)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        download = await download_packet(session, staff=police, tip_ref=tip.ref, stores=stores)
        [event] = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "packet.download"))
        ).all()
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    names = set(archive.namelist())
    assert {"packet.json", "SHA256SUMS"} <= names
    original = f"files/original/{photo.original_sha256}.jpg"
    display = f"files/display/{photo.display_sha256}.jpg"
    assert archive.read(original) == stores.originals.get(photo.original_sha256)
    assert archive.read(display) == stores.display.get(photo.display_sha256)
    sums = archive.read("SHA256SUMS").decode()
    assert f"{photo.original_sha256}  {original}" in sums
    document = json.loads(archive.read("packet.json"))
    assert document["tip"]["ref"] == tip.ref and len(document["decisions"]) == 1
    assert download.filename.startswith(f"tipline-packet-{tip.ref}.D")
    assert (event.actor_id, event.object_ref) == (police.id, tip.ref)
