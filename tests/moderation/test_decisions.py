"""Decisions have one effect, reach the tipster through the outbox, and respect the policy."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.errors import InvalidInput
from moderation.policy import POLICY, can
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from moderation.review.queue import ClaimConflict, claim
from storage.models import AuditEvent, Decision, OutboxMessage, Tip, Tipster
from tests.moderation import factories


async def test_promising_notifies_the_tipster_in_their_language_and_is_audited(sessions):
    async with sessions() as session:
        mod = await factories.staff(session)
        person = await factories.tipster(session, language="zh-Hans")
        row = await factories.tip(session, tipster=person)
        await decide(session, staff=mod, tip_ref=row.ref, outcome=Outcome.PROMISING, note="n")
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        messages = (await session.scalars(select(OutboxMessage))).all()
        audit = (await session.scalars(select(AuditEvent.action))).all()
        record = await session.get(Tipster, person.id)
    assert tip.status == "promising"
    assert [m.recipient for m in messages] == [f"tipster:{person.id}"]
    assert "已转交" in messages[0].payload["text"] and row.text not in messages[0].payload["text"]
    assert "tip.promising" in audit
    assert record.promising_count == 1


async def test_deciding_twice_has_one_effect(sessions):
    async with sessions() as session:
        mod = await factories.staff(session)
        row = await factories.tip(session, tipster=await factories.tipster(session))

    async def attempt(outcome: Outcome) -> str:
        async with sessions() as session:
            staff = await session.get(type(mod), mod.id)
            try:
                await decide(session, staff=staff, tip_ref=row.ref, outcome=outcome)
            except AlreadyDecided:
                return "already"
            return "done"

    results = await asyncio.gather(
        attempt(Outcome.SPAM), attempt(Outcome.NOT_RELEVANT), attempt(Outcome.PROMISING)
    )
    assert sorted(results) == ["already", "already", "done"]
    async with sessions() as session:
        assert len((await session.scalars(select(Decision))).all()) == 1
        assert len((await session.scalars(select(OutboxMessage))).all()) <= 1


async def test_needs_info_relays_a_question_with_an_answer_button(sessions):
    async with sessions() as session:
        mod = await factories.staff(session)
        row = await factories.tip(session, tipster=await factories.tipster(session))
        await decide(
            session,
            staff=mod,
            tip_ref=row.ref,
            outcome=Outcome.NEEDS_INFO,
            question="What colour was the coat?",
        )
        message = await session.scalar(select(OutboxMessage))
        assert "What colour was the coat?" in message.payload["text"]
        assert message.payload["buttons"] == [[["Answer", f"ans:{row.ref}"]]]
        # Still open: the conversation goes on.
        await decide(session, staff=mod, tip_ref=row.ref, outcome=Outcome.PROMISING)


async def test_cannot_ask_a_tipster_who_refused_contact(sessions):
    async with sessions() as session:
        mod = await factories.staff(session)
        row = await factories.tip(session, tipster=await factories.tipster(session), contact=False)
        with pytest.raises(InvalidInput, match="did not agree"):
            await decide(
                session, staff=mod, tip_ref=row.ref, outcome=Outcome.NEEDS_INFO, question="?"
            )
        await decide(session, staff=mod, tip_ref=row.ref, outcome=Outcome.NOT_RELEVANT)
        assert (await session.scalars(select(OutboxMessage))).all() == []


async def test_a_tip_claimed_by_another_cannot_be_decided(sessions):
    async with sessions() as session:
        a = await factories.staff(session, email="a@example.org")
        b = await factories.staff(session, email="b@example.org")
        row = await factories.tip(session)
        await claim(session, tip_id=row.id, staff_id=a.id)
        with pytest.raises(ClaimConflict):
            await decide(session, staff=b, tip_ref=row.ref, outcome=Outcome.SPAM)
        assert (await session.get(Tip, row.id)).status == "received"


@pytest.mark.parametrize("role", ["police_liaison", "admin", "auditor"])
async def test_roles_outside_the_policy_cannot_decide(sessions, role):
    async with sessions() as session:
        staff = await factories.staff(session, role=role)
        row = await factories.tip(session)
        with pytest.raises(PermissionError):
            await decide(session, staff=staff, tip_ref=row.ref, outcome=Outcome.SPAM)


def test_policy_refuses_unknown_actions_and_roles():
    assert can("moderator", "tip.decide")
    assert not can("moderator", "identity.approve_reveal")
    assert not can("moderator", "no.such.action")
    assert not can("emperor", "tip.decide")
    assert all(roles for roles in POLICY.values())
