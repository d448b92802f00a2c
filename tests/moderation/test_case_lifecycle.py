"""The case lifecycle: only allowed moves, verification needs a police reference, nothing is
public before it, every move is audited, a bot submitter hears the outcome, alerts start and end."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.alerts.dispatch import AlertPolicy
from core.cases.public import get_public_case, has_public_cases, list_cases_near
from core.cases.registry import CaseDraft, submit_case
from core.errors import InvalidInput
from core.identity.vault import Vault
from moderation.cases.lifecycle import (
    next_statuses,
    recenter_case,
    register_case,
    transition_case,
    update_case,
    view_contact,
)
from storage.models import (
    AuditEvent,
    Case,
    CaseAlert,
    OutboxMessage,
    Subscription,
    Tip,
    Tipster,
)
from tests.moderation import factories

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
VAULT = Vault(Vault.new_key())
RADII = (100.0, 200.0)


def draft(**values: object) -> CaseDraft:
    """A missing child last seen in Xi'an an hour ago."""
    base: dict[str, object] = {
        "full_name": "Li Wei",
        "age_years": 7,
        "last_seen_at": NOW - timedelta(hours=1),
        "last_seen_place": "Xi'an",
        "last_seen_lat": 34.26,
        "last_seen_lon": 108.94,
        "contact": "mother +86 138 0000 0000",
    }
    base.update(values)
    return CaseDraft(**base)  # type: ignore[arg-type]


async def new_case(session, **values: object) -> Case:
    return await submit_case(session, draft=draft(**values), vault=VAULT, channel="staff", now=NOW)


async def move(session, staff, case, to, reason="", now=NOW):
    return await transition_case(
        session,
        staff=staff,
        ref=case.ref,
        to=to,
        reason=reason,
        now=now,
        policy=AlertPolicy(radii_km=RADII, step_minutes=60),
    )


async def test_a_submitted_case_is_never_public(sessions):
    async with sessions() as session:
        case = await new_case(session, police_ref="PSB-2025-1")
        assert await get_public_case(session, code=case.ref) is None
        assert not await has_public_cases(session)
        assert await list_cases_near(session, lat=34.26, lon=108.94) == []


async def test_verification_without_a_police_reference_is_refused_and_changes_nothing(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        case = await new_case(session, police_ref="  ")
        with pytest.raises(InvalidInput, match="police report reference"):
            await move(session, senior, case, "verified")
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        audit = (await session.scalars(select(AuditEvent))).all()
    assert stored is not None and stored.status == "submitted" and stored.verified_by is None
    assert audit == []


async def test_verifying_makes_the_case_public_and_is_audited_with_who_and_when(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        case = await new_case(session, police_ref="PSB-2025-1")
        await move(session, senior, case, "verified", reason="called the station")
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        audit = (await session.scalars(select(AuditEvent))).all()
        public = await get_public_case(session, code=f"case_{case.ref.lower()}")
    assert stored is not None and stored.status == "verified"
    assert stored.verified_by == senior.id and stored.verified_at == NOW
    assert stored.status_changed_at == NOW
    assert public is not None and public.id == case.id
    assert [(a.action, a.actor_id, a.reason, a.detail) for a in audit] == [
        ("case.verified", senior.id, "called the station", {"from": "submitted"})
    ]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["verified", "active", "found", "closed"], "active"),
        (["withdrawn"], "verified"),
        (["closed"], "active"),
        (["verified", "found"], "active"),
    ],
)
async def test_only_the_allowed_moves_are_possible(sessions, path, refused):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        case = await new_case(session, police_ref="PSB-1")
        for status in path:
            await move(session, senior, case, status)
        with pytest.raises(InvalidInput, match=f"cannot become {refused}"):
            await move(session, senior, case, refused)
        assert (
            next_statuses(case)
            == {
                "closed": (),
                "withdrawn": (),
                "found": ("closed",),
            }[case.status]
        )


async def test_a_moderator_may_not_verify_or_end_a_case(sessions):
    async with sessions() as session:
        mod = await factories.staff(session, "moderator")
        case = await new_case(session, police_ref="PSB-1")
        for to in ("verified", "closed"):
            with pytest.raises(PermissionError):
                await move(session, mod, case, to)
    async with sessions() as session:
        stored = await session.get(Case, case.id)
    assert stored is not None and stored.status == "submitted"


async def test_the_bot_submitter_hears_of_verification_in_their_language(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        family = await factories.tipster(session, language="zh-Hans")
        case = await submit_case(
            session,
            draft=draft(police_ref="PSB-1"),
            vault=VAULT,
            channel="telegram",
            tipster_id=family.id,
            now=NOW,
        )
        await move(session, senior, case, "verified")
    async with sessions() as session:
        messages = (await session.scalars(select(OutboxMessage))).all()
    assert [m.recipient for m in messages] == [f"tipster:{family.id}"]
    assert (
        "已经过审核员核实" in messages[0].payload["text"]
        and case.ref in messages[0].payload["text"]
    )


async def test_the_bot_submitter_hears_of_a_refusal_but_not_the_internal_reason(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        family = await factories.tipster(session)
        case = await submit_case(
            session, draft=draft(), vault=VAULT, channel="telegram", tipster_id=family.id, now=NOW
        )
        await move(session, senior, case, "closed", reason="station has no such report")
    async with sessions() as session:
        messages = (await session.scalars(select(OutboxMessage))).all()
    assert len(messages) == 1
    text = messages[0].payload["text"]
    assert "could not publish" in text and "station" not in text


async def test_the_contact_is_shown_only_to_allowed_roles_and_each_view_is_audited(sessions):
    async with sessions() as session:
        police = await factories.staff(session, "police_liaison")
        mod = await factories.staff(session, "moderator")
        case = await new_case(session)
        assert await view_contact(session, staff=police, ref=case.ref, vault=VAULT) == (
            "mother +86 138 0000 0000"
        )
        with pytest.raises(PermissionError):
            await view_contact(session, staff=mod, ref=case.ref, vault=VAULT)
    async with sessions() as session:
        audit = (await session.scalars(select(AuditEvent))).all()
    assert [(a.action, a.actor_id) for a in audit] == [("case.contact_view", police.id)]


async def test_staff_registration_and_edits_are_audited_without_their_values(sessions):
    async with sessions() as session:
        mod = await factories.staff(session, "moderator")
        senior = await factories.staff(session, "senior_moderator")
        case = await register_case(session, staff=mod, draft=draft(), vault=VAULT, source_key="k1")
        case_id, mod_id = case.id, mod.id
        changed = await update_case(
            session, staff=senior, ref=case.ref, changes={"marks": "scar on chin"}, vault=VAULT
        )
        with pytest.raises(PermissionError):
            await update_case(session, staff=mod, ref=case.ref, changes={"marks": "x"}, vault=VAULT)
        with pytest.raises(InvalidInput):
            await update_case(
                session, staff=senior, ref=case.ref, changes={"full_name": ""}, vault=VAULT
            )
    async with sessions() as session:
        audit = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        stored = await session.get(Case, case_id)
    assert changed == ["marks"]
    assert stored is not None and stored.submitted_by_staff_id == mod_id
    assert stored.channel == "staff" and stored.full_name == "Li Wei"
    assert [(a.action, a.detail) for a in audit] == [
        ("case.create", {}),
        ("case.edit", {"fields": ["marks"]}),
    ]
    assert "scar" not in str([a.detail for a in audit])


async def volunteer(session, *, lat: float, lon: float) -> Subscription:
    """A volunteer watching 50 km around a point."""
    person = Tipster(pseudonym=f"T-{secrets.token_hex(4)}", language="en")
    session.add(person)
    await session.flush()
    row = Subscription(
        kind="volunteer", tipster_id=person.id, lat=lat, lon=lon, radius_km=50.0, language="en"
    )
    session.add(row)
    await session.commit()
    return row


async def test_activating_alerts_volunteers_nearby_and_found_tells_them_it_ended(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        near = await volunteer(session, lat=34.30, lon=108.90)
        await volunteer(session, lat=39.90, lon=116.40)  # Beijing: far away
        case = await new_case(session, police_ref="PSB-1")
        await move(session, senior, case, "verified")
        await move(session, senior, case, "active")
        alerted = (await session.scalars(select(CaseAlert))).all()
        assert [(a.subscription_id, a.kind) for a in alerted] == [(near.id, "alert")]
        # The relay sent the alert.
        await session.execute(update(OutboxMessage).values(status="sent"))
        await session.commit()
        await move(session, senior, case, "found", now=NOW + timedelta(hours=2))
    async with sessions() as session:
        kinds = (await session.execute(select(CaseAlert.subscription_id, CaseAlert.kind))).all()
        pending = (
            await session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.status == "pending")
            )
        ).all()
        stored = await session.get(Case, case.id)
    assert sorted(kinds, key=lambda row: row[1]) == [(near.id, "alert"), (near.id, "ended")]
    assert pending == [f"ended:{case.id}:{near.id}"]
    assert stored is not None and stored.status == "found"


async def test_closing_before_an_alert_went_out_cancels_it(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        await volunteer(session, lat=34.30, lon=108.90)
        case = await new_case(session, police_ref="PSB-1")
        for status in ("verified", "active", "closed"):
            await move(session, senior, case, status)
    async with sessions() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
    assert statuses and "pending" not in statuses


async def test_recentering_moves_the_alert_centre_to_the_sighting(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        mod = await factories.staff(session, "moderator")
        case = await new_case(session, police_ref="PSB-1")
        await move(session, senior, case, "verified")
        with pytest.raises(InvalidInput, match="only an active case"):
            await recenter_case(session, staff=mod, ref=case.ref, tip_ref="X", now=NOW)
        await move(session, senior, case, "active")
        seen = NOW - timedelta(minutes=10)
        tip = await factories.tip(session, lat=34.50, lon=109.10, seen_at=seen, case_id=case.id)
        bare = await factories.tip(session)
        with pytest.raises(InvalidInput, match="no place"):
            await recenter_case(session, staff=mod, ref=case.ref, tip_ref=bare.ref, now=NOW)
        await recenter_case(session, staff=mod, ref=case.ref, tip_ref=tip.ref, now=NOW)
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        audit = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "case.recenter"))
        ).all()
        assert (await session.get(Tip, tip.id)) is not None
    assert stored is not None
    assert (stored.alert_lat, stored.alert_lon, stored.alert_from_at) == (34.50, 109.10, seen)
    assert [a.detail for a in audit] == [{"tip": tip.ref}]


async def test_the_verified_notice_carries_the_public_page_and_the_poster(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        family = await factories.tipster(session, language="zh-Hans")
        case = await submit_case(
            session,
            draft=draft(police_ref="PSB-1"),
            vault=VAULT,
            channel="telegram",
            tipster_id=family.id,
            now=NOW,
        )
        await transition_case(
            session,
            staff=senior,
            ref=case.ref,
            to="verified",
            now=NOW,
            public_url="https://tipline.example.org/",
        )
    async with sessions() as session:
        [notice] = (await session.scalars(select(OutboxMessage))).all()
    page = f"https://tipline.example.org/people/{case.ref}"
    assert f"公开页面：{page}\n" in notice.payload["text"]
    assert f"{page}/poster.pdf" in notice.payload["text"]
