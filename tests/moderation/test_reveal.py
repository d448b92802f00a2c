"""Revealing a tipster needs two different senior moderators and a reason, and is audited twice."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core.errors import InvalidInput, NotFound
from core.identity.tipsters import get_or_create_tipster
from core.identity.vault import Vault
from moderation.privacy.reveal import approve_reveal, list_pending, refuse_reveal, request_reveal
from storage.models import AuditEvent, RevealRequest, StaffUser, TipsterIdentity
from tests.moderation import factories

_serial = itertools.count(1)

REASON = "Police asked to reach the witness of a confirmed sighting (case 42)."


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


async def _tipster_with_identity(session, vault):
    tipster = await get_or_create_tipster(
        session,
        vault,
        channel="telegram",
        external_id="555001",
        identity={
            "chat_id": 555001,
            "user_id": 555001,
            "username": "ada_k7q2",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0000",
        },
        language="en",
    )
    await session.commit()
    tip = await factories.tip(session, tipster=tipster)
    return tipster, tip


async def _staff(session, role: str = "senior_moderator"):
    # Unique e-mails: the shared factory's default can repeat within one test.
    return await factories.staff(session, role, email=f"{role}-{next(_serial)}@example.org")


async def _audit(session) -> list[AuditEvent]:
    return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_two_different_senior_moderators_reveal_once_and_both_steps_are_audited(
    sessions, vault
):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        approver = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        request = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        identity = await approve_reveal(session, vault, staff=approver, request_id=request.id)
        events = await _audit(session)
        row = await session.get(RevealRequest, request.id)
    assert (identity.chat_id, identity.username, identity.phone) == (
        555001,
        "ada_k7q2",
        "+44 20 7946 0000",
    )
    assert (identity.first_name, identity.last_name) == ("Ada", "Lovelace")
    assert (row.status, row.decided_by) == ("approved", approver.id)
    requested, approved = [e for e in events if e.action.startswith("identity.")]
    assert (requested.action, requested.actor_id, requested.reason) == (
        "identity.reveal_requested",
        asker.id,
        REASON,
    )
    assert (approved.action, approved.actor_id, approved.reason) == (
        "identity.reveal_approved",
        approver.id,
        REASON,
    )
    assert approved.object_ref == tipster.pseudonym
    assert approved.detail["requested_by"] == asker.id
    for event in events:  # nothing in plain text: not in the audit trail, not anywhere else
        assert "ada_k7q2" not in repr(event.detail) and "Lovelace" not in (event.reason or "")


async def test_the_requester_cannot_approve_their_own_request(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        request = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        request_id = request.id
        with pytest.raises(PermissionError):
            await approve_reveal(session, vault, staff=asker, request_id=request_id)
    async with sessions() as session:
        row = await session.get(RevealRequest, request_id)
        assert row.status == "pending"


async def test_an_approved_request_is_seen_once(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        approver = await _staff(session, "senior_moderator")
        third = await _staff(session, "senior_moderator")
        tipster, _ = await _tipster_with_identity(session, vault)
        request = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=None, reason=REASON
        )
        await approve_reveal(session, vault, staff=approver, request_id=request.id)
        request_id, staff_ids = request.id, (approver.id, third.id)
    for staff_id in staff_ids:
        async with sessions() as session:
            again = await session.get(StaffUser, staff_id)
            with pytest.raises(InvalidInput):
                await approve_reveal(session, vault, staff=again, request_id=request_id)
    async with sessions() as session:
        approvals = [e for e in await _audit(session) if e.action == "identity.reveal_approved"]
    assert len(approvals) == 1


@pytest.mark.parametrize("reason", ["", "   ", "because I want to", " " * 30 + "short"])
async def test_a_reason_of_twenty_characters_is_required(sessions, vault, reason):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        with pytest.raises(InvalidInput):
            await request_reveal(
                session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=reason
            )
    async with sessions() as session:
        assert (await session.scalars(select(RevealRequest))).all() == []


async def test_asking_twice_while_pending_returns_the_pending_request(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        other = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        first = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        second = await request_reveal(
            session, staff=other, tipster_id=tipster.id, tip_id=None, reason=REASON + " again"
        )
        rows = (await session.scalars(select(RevealRequest))).all()
        requested = [e for e in await _audit(session) if e.action == "identity.reveal_requested"]
    assert second.id == first.id and len(rows) == 1 and len(requested) == 1


@pytest.mark.parametrize("role", ["moderator", "auditor", "admin", "police_liaison"])
async def test_other_roles_can_neither_request_nor_approve(sessions, vault, role):
    async with sessions() as session:
        senior = await _staff(session, "senior_moderator")
        someone = await _staff(session, role)
        tipster, tip = await _tipster_with_identity(session, vault)
        with pytest.raises(PermissionError):
            await request_reveal(
                session, staff=someone, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
            )
        request = await request_reveal(
            session, staff=senior, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        with pytest.raises(PermissionError):
            await approve_reveal(session, vault, staff=someone, request_id=request.id)
        with pytest.raises(PermissionError):
            await refuse_reveal(session, staff=someone, request_id=request.id)
        with pytest.raises(PermissionError):
            await list_pending(session, staff=someone)
        request_id = request.id
    async with sessions() as session:
        row = await session.get(RevealRequest, request_id)
        assert row.status == "pending"
        assert len((await session.scalars(select(RevealRequest))).all()) == 1


async def test_a_refused_request_cannot_be_approved_and_the_refusal_is_audited(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        approver = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        request = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        assert [r.id for r in await list_pending(session, staff=approver)] == [request.id]
        await refuse_reveal(session, staff=approver, request_id=request.id, reason="not enough")
        with pytest.raises(InvalidInput):
            await approve_reveal(session, vault, staff=approver, request_id=request.id)
        approver_id = approver.id
    async with sessions() as session:
        approver = await session.get(StaffUser, approver_id)
        assert await list_pending(session, staff=approver) == []
        refused = [e for e in await _audit(session) if e.action == "identity.reveal_refused"]
    assert [(e.actor_id, e.reason) for e in refused] == [(approver.id, "not enough")]


async def test_a_tip_of_someone_else_or_an_unknown_tipster_is_refused(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        tipster, _ = await _tipster_with_identity(session, vault)
        stranger_tip = await factories.tip(session, tipster=await factories.tipster(session))
        with pytest.raises(InvalidInput):
            await request_reveal(
                session, staff=asker, tipster_id=tipster.id, tip_id=stranger_tip.id, reason=REASON
            )
        with pytest.raises(NotFound):
            await request_reveal(
                session, staff=asker, tipster_id=tipster.id + 999, tip_id=None, reason=REASON
            )


async def test_the_vault_row_stays_encrypted(sessions, vault):
    async with sessions() as session:
        asker = await _staff(session, "senior_moderator")
        approver = await _staff(session, "senior_moderator")
        tipster, tip = await _tipster_with_identity(session, vault)
        request = await request_reveal(
            session, staff=asker, tipster_id=tipster.id, tip_id=tip.id, reason=REASON
        )
        await approve_reveal(session, vault, staff=approver, request_id=request.id)
        stored = await session.scalar(select(TipsterIdentity))
        request_row = await session.get(RevealRequest, request.id)
    assert b"ada_k7q2" not in stored.ciphertext
    assert "ada_k7q2" not in request_row.reason
