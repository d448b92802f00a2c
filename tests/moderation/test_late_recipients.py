"""People who join a case after its leads were passed on: a family member linked later (or muted
meanwhile) and a police recipient added later get the earlier leads, each exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moderation.cases.families import set_muted
from moderation.forwarding.forward import FamilyLead
from moderation.review.decisions import Outcome, decide
from storage.models import AuditEvent, OutboxMessage
from storage.photostore import open_photo_stores
from tests.moderation.test_forwarding import (
    SUMMARY,
    add_recipient,
    family_members,
    forwarding_world,
)


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


async def _to(session, recipient):
    stmt = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
    return (await session.scalars(stmt.order_by(OutboxMessage.id))).all()


async def _promising(session, mod, tip):
    await decide(
        session,
        staff=mod,
        tip_ref=tip.ref,
        outcome=Outcome.PROMISING,
        family=FamilyLead(summary=SUMMARY, coarse_place="", include_photo_sha=None),
    )


async def test_a_family_member_linked_after_a_lead_gets_it_once(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores)
        (early,) = await family_members(session, senior, case, [1])
        await _promising(session, mod, tip)
        (late,) = await family_members(session, senior, case, [2])
        # Linking again (a second code for the same person) sends nothing new.
        await family_members(session, senior, case, [])
        early_rows = await _to(session, f"tipster:{early.id}")
        late_rows = await _to(session, f"tipster:{late.id}")
        linked = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "family.linked"))
        ).all()
    assert len(early_rows) == 1 and len(late_rows) == 1
    assert SUMMARY in late_rows[0].payload["text"]
    assert late_rows[0].payload["protect_content"] is True
    assert [e.detail["earlier_leads"] for e in linked] == [0, 1]


async def test_leads_passed_on_while_muted_arrive_on_unmute_and_never_twice(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores)
        (member,) = await family_members(session, senior, case, [1])
        await set_muted(session, tipster=member, muted=True)
        await _promising(session, mod, tip)
        assert await _to(session, f"tipster:{member.id}") == []
        await set_muted(session, tipster=member, muted=False)
        await set_muted(session, tipster=member, muted=True)
        await set_muted(session, tipster=member, muted=False)
        rows = await _to(session, f"tipster:{member.id}")
    assert len(rows) == 1
    assert SUMMARY in rows[0].payload["text"]


async def test_a_police_recipient_added_after_a_forward_gets_the_earlier_packet(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        await _promising(session, mod, tip)
        row = await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="email",
            address="new-officer@police.example.org",
            label="Officer assigned later",
        )
        again = await add_recipient(
            session,
            staff=senior,
            case_ref=case.ref,
            kind="email",
            address="new-officer@police.example.org",
            label="Officer assigned later",
        )
        rows = await _to(session, f"police:{row.id}")
        audit = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "police.recipient_approved")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert again.id == row.id
    assert len(rows) == 1
    assert rows[0].channel == "email"
    assert rows[0].payload["kind"] == "police_packet" and rows[0].payload["urgent"] is False
    assert [e.detail["earlier_packets"] for e in audit] == [1]
