"""The senior gate: a tip flagged possible extortion (English or Chinese) never reaches the family
on a plain moderator's word; a senior forwards it only with an explicit approval, audited.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from moderation.cases.scam_gate import NeedsSenior
from moderation.forwarding.forward import FamilyLead, forward_to_family, tip_forwarding
from moderation.review.decisions import Outcome, decide
from storage.models import AuditEvent, Decision, Forward, OutboxMessage, StaffUser, Tip
from storage.photostore import open_photo_stores
from tests.moderation.test_forwarding import (
    SUMMARY,
    family_members,
    forwarding_world,
)


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


RANSOM = {
    "en": "I know where Li Na is. Send 20000 USD in bitcoin first, and don't call the police.",
    "zh": "我知道李娜在哪。先打钱到这个银行卡，别报警，不然再也见不到她。",
}


async def _flagged_world(session, stores, text: str):
    senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
    tip.text = text
    tip.score_parts = {
        **tip.score_parts,
        "flags": [{"code": "possible_extortion", "message": "Possible extortion"}],
    }
    await session.commit()
    [mother] = await family_members(session, senior, case, [1])
    # Plain values: a refused use case is rolled back, which expires loaded rows.
    return senior.id, mod.id, tip.id, tip.ref, mother.id


async def _staff(session, staff_id):
    return await session.get(StaffUser, staff_id)


async def _to_family(session, mother_id) -> int:
    stmt = select(func.count(OutboxMessage.id)).where(
        OutboxMessage.recipient == f"tipster:{mother_id}"
    )
    return int(await session.scalar(stmt) or 0)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_plain_moderator_cannot_send_an_extortion_tip_to_the_family(
    sessions, stores, language
):
    async with sessions() as session:
        _, mod_id, tip_id, ref, mother = await _flagged_world(session, stores, RANSOM[language])
        with pytest.raises(NeedsSenior, match="only a senior moderator"):
            await decide(
                session,
                staff=await _staff(session, mod_id),
                tip_ref=ref,
                outcome=Outcome.PROMISING,
                family=FamilyLead(summary=SUMMARY, approve_flagged=True),
            )
        await session.rollback()
        assert (await session.get(Tip, tip_id)).status == "received"  # undecided
        assert await session.scalar(select(func.count(Decision.id))) == 0
        # Decided without the family, it still cannot be forwarded later by a moderator.
        mod = await _staff(session, mod_id)
        await decide(session, staff=mod, tip_ref=ref, outcome=Outcome.PROMISING)
        with pytest.raises(NeedsSenior, match="only a senior moderator"):
            await forward_to_family(
                session, staff=mod, tip_ref=ref, lead=FamilyLead(summary=SUMMARY)
            )
        await session.rollback()
        assert await _to_family(session, mother) == 0
        tip = await session.get(Tip, tip_id)
        assert (await tip_forwarding(session, tip=tip)).possible_extortion


async def test_a_senior_sends_it_only_with_an_explicit_approval_which_is_audited(sessions, stores):
    async with sessions() as session:
        senior_id, mod_id, _, ref, mother = await _flagged_world(session, stores, RANSOM["zh"])
        mod = await _staff(session, mod_id)
        await decide(session, staff=mod, tip_ref=ref, outcome=Outcome.PROMISING)
        with pytest.raises(NeedsSenior, match="tick"):
            await forward_to_family(
                session,
                staff=await _staff(session, senior_id),
                tip_ref=ref,
                lead=FamilyLead(summary=SUMMARY),
            )
        await session.rollback()
        assert await _to_family(session, mother) == 0
        await forward_to_family(
            session,
            staff=await _staff(session, senior_id),
            tip_ref=ref,
            lead=FamilyLead(summary=SUMMARY, approve_flagged=True),
        )
        assert await _to_family(session, mother) == 1
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "forward.family")
        )
    assert event.actor_id == senior_id and event.detail["extortion_approved"] is True


async def test_the_gate_reads_the_text_even_before_the_tip_was_scored(sessions, stores):
    async with sessions() as session:
        _, mod, _, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        tip.text = "Pay the reward first, then I tell you where she is"
        await session.commit()
        with pytest.raises(NeedsSenior):
            await decide(
                session,
                staff=mod,
                tip_ref=tip.ref,
                outcome=Outcome.PROMISING,
                family=FamilyLead(summary=SUMMARY),
            )


async def test_an_ordinary_tip_goes_to_the_family_as_before(sessions, stores):
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        await family_members(session, senior, case, [1])
        await decide(
            session,
            staff=mod,
            tip_ref=tip.ref,
            outcome=Outcome.PROMISING,
            family=FamilyLead(summary=SUMMARY),
        )
        assert await session.scalar(select(func.count(Forward.id))) >= 1
