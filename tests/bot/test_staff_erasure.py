"""Erasure by two senior moderators, by pseudonym, on the dashboard: then the generic scan finds
nothing of the tipster. Refusals: an unknown pseudonym, a second approval by the asker, a second
approval of a decided request. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.models import AuditEvent, ErasureRequest, Tip, Tipster, TipsterIdentity
from tests.bot.test_forget import ask_a_question, assert_nothing_of_them, full_tip
from tests.web import dashboard_world as world

REASON = "the tipster wrote to our helpline asking to be forgotten"


@pytest.fixture
async def client(engine, sessions, services, tmp_path):  # type: ignore[no-untyped-def]
    context = world.build_context(engine, sessions, tmp_path / "media")
    context.vault = services.vault  # the bot's vault: the dashboard opens what the bot sealed
    async for client in world.client_for(context):
        yield client


async def _identities(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(select(func.count(TipsterIdentity.id))) or 0)


async def test_two_seniors_erase_a_tipster_and_nothing_of_them_is_left(
    chat, fake, sessions, engine, services, client
):
    ref = await full_tip(chat, fake)
    await ask_a_question(sessions, ref)
    async with sessions() as session:
        asker = await world.sign_in_as(session, "senior_moderator")
        approver = await world.sign_in_as(session, "senior_moderator")
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
        pseudonym = await session.scalar(
            select(Tipster.pseudonym).where(Tipster.id == tip.tipster_id)
        )

    world.use(client, asker)
    unknown = await client.post(
        "/erasures", data={"csrf": asker.csrf, "pseudonym": "T-NOPE-NOPE", "reason": REASON}
    )
    assert unknown.status_code == 404 and "no tipster has this pseudonym" in unknown.text
    asked = await client.post(
        "/erasures", data={"csrf": asker.csrf, "pseudonym": pseudonym.lower(), "reason": REASON}
    )
    assert asked.status_code == 303
    async with sessions() as session:
        request_id = await session.scalar(select(ErasureRequest.id))
    own = await client.post(f"/erasures/{request_id}/approve", data={"csrf": asker.csrf})
    assert own.status_code == 403 and "different senior moderator" in own.text
    assert await _identities(sessions) == 1  # nothing erased by one person alone

    world.use(client, approver)
    listing = (await client.get("/erasures")).text
    assert pseudonym in listing and "Approve and erase" in listing
    done = await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    assert done.status_code == 303
    again = await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    assert again.status_code == 409 and "already approved or refused" in again.text
    assert await _identities(sessions) == 0

    async with sessions() as session:
        actions = (
            await session.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail))
        ).all()
        kept = await session.scalar(select(Tip).where(Tip.ref == ref))
    assert ("identity.erasure_requested", asker.user.id) in [(a, b) for a, b, _ in actions]
    erased = [(who, detail) for action, who, detail in actions if action == "identity.erased"]
    assert erased == [(approver.user.id, erased[0][1])] and erased[0][1]["request_id"] == request_id
    assert kept is not None and not kept.contact_allowed  # the tip stays, unlinkable
    await assert_nothing_of_them(engine, services.vault)


async def test_asking_twice_for_an_erased_tipster_is_refused_clearly(
    chat, fake, sessions, services, client
):
    ref = await full_tip(chat, fake)
    async with sessions() as session:
        asker = await world.sign_in_as(session, "senior_moderator")
        approver = await world.sign_in_as(session, "senior_moderator")
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
        pseudonym = await session.scalar(
            select(Tipster.pseudonym).where(Tipster.id == tip.tipster_id)
        )
    world.use(client, asker)
    await client.post(
        "/erasures", data={"csrf": asker.csrf, "pseudonym": pseudonym, "reason": REASON}
    )
    async with sessions() as session:
        request_id = await session.scalar(select(ErasureRequest.id))
    world.use(client, approver)
    await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    world.use(client, asker)
    again = await client.post(
        "/erasures", data={"csrf": asker.csrf, "pseudonym": pseudonym, "reason": REASON}
    )
    assert again.status_code == 400 and "already erased" in again.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(ErasureRequest.id))) == 1
