"""The WhatsApp sender through the real relay and the fake Graph API: free-form inside the
24-hour window, templates outside it, 131047, throughput errors, and status webhooks landing
on the outbox row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.delivery.outbox import enqueue, tipster_recipient
from core.identity.tipsters import get_or_create_tipster
from core.whatsapp import payloads
from storage.models import OutboxMessage
from storage.types import utcnow
from tests.fakes.whatsapp import payloads as wa
from tests.keys import TEST_VAULT
from tests.whatsapp.world import World, relay_once, served

PHONE = "8613800001111"
LATER = timedelta(hours=25)


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


async def _tipster(sessions, language: str = "en") -> int:
    """A WhatsApp tipster, made by the use case the conversation flow calls."""
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            TEST_VAULT,
            channel="whatsapp",
            external_id=PHONE,
            identity={},
            language=language,
        )
        return tipster.id


async def _writes(world: World, body: str = "hello") -> None:
    payload = wa.message(world.fake.phone_number_id, PHONE, *wa.text(body))
    assert await world.fake.deliver(world.url, payload) == 200


async def _enqueue(sessions, tipster_id: int, payload: dict, key: str = "m1") -> None:
    async with sessions() as session:
        recipient = tipster_recipient(tipster_id)
        await enqueue(session, channel="whatsapp", recipient=recipient, payload=payload, key=key)
        await session.commit()


def _lead(free: dict | None = None) -> dict:
    return payloads.message(
        free or payloads.buttons("A lead for case K7: seen near the station.", [("ok", "OK")]),
        payloads.template("tipline_family_lead", "zh-Hans", ["K7", "seen near the station"]),
    )


async def _row(sessions, key: str = "m1") -> OutboxMessage:
    async with sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        return (await session.scalars(stmt)).one()


async def test_inside_the_window_the_free_form_message_goes(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    await relay_once(world, sessions)
    (send,) = world.fake.sends
    assert (send.to, send.type) == (PHONE, "interactive")
    assert send.body["interactive"]["action"]["buttons"][0]["reply"] == {"id": "ok", "title": "OK"}
    row = await _row(sessions)
    assert (row.status, row.external_id, row.delivery_status) == ("sent", send.wamid, "sent")


@pytest.mark.parametrize("wrote", [True, False], ids=["wrote 25 h ago", "never wrote"])
async def test_outside_the_window_the_template_goes(world, sessions, wrote):
    tipster = await _tipster(sessions, "zh-Hans")
    if wrote:
        await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    await relay_once(world, sessions, hours_later=25 if wrote else 0)
    (send,) = world.fake.sends
    assert send.type == "template"
    template = send.body["template"]
    assert (template["name"], template["language"]["code"]) == ("tipline_family_lead", "zh_CN")
    texts = [p["text"] for p in template["components"][0]["parameters"]]
    assert texts == ["K7", "seen near the station"]
    assert (await _row(sessions)).status == "sent"


async def test_the_message_a_template_stood_in_for_waits_for_the_reply_and_holds_back_nothing(
    world, sessions
):
    tipster = await _tipster(sessions)
    await _enqueue(sessions, tipster, _lead())
    await relay_once(world, sessions)
    held = await _row(sessions, "m1:reply")
    assert (held.status, held.payload["template"]) == ("pending", None)
    assert held.next_attempt_at > utcnow() + timedelta(days=6)
    await _enqueue(sessions, tipster, _lead(), key="m2")
    await relay_once(world, sessions)
    assert [s.type for s in world.fake.sends] == ["template", "template"]
    await _writes(world)
    await relay_once(world, sessions)
    assert [s.type for s in world.fake.sends][-1] == "interactive"
    assert (await _row(sessions, "m1:reply")).status == "sent"


async def test_outside_the_window_without_a_template_the_row_is_dead_and_waits_for_the_reply(
    world, sessions
):
    tipster = await _tipster(sessions)
    await _enqueue(sessions, tipster, payloads.message(payloads.text("Thank you")))
    await relay_once(world, sessions)
    row = await _row(sessions)
    assert row.status == "dead" and "24-hour window" in (row.last_error or "")
    assert "held for the reply" in (row.last_error or "")
    assert world.fake.sends == []
    await _writes(world)
    await relay_once(world, sessions)
    assert [s.body.get("text") for s in world.fake.sends] == [
        {"body": "Thank you", "preview_url": False}
    ]


async def test_131047_falls_back_to_the_template_at_once(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    world.fake.fail(131047, only_type="interactive")
    await relay_once(world, sessions)
    assert [s.type for s in world.fake.state.sends] == ["interactive", "template"]
    row = await _row(sessions)
    assert row.status == "sent" and row.external_id == world.fake.sends[0].wamid


async def test_131047_without_a_template_is_not_retried(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, payloads.message(payloads.text("Thank you")))
    world.fake.fail(131047, times=5)
    await relay_once(world, sessions)
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "131047" in (row.last_error or "")
    assert len(world.fake.state.sends) == 1


@pytest.mark.parametrize("code", [130429, 131056])
async def test_throughput_errors_wait_without_spending_an_attempt(world, sessions, code):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    world.fake.fail(code)
    await relay_once(world, sessions)
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at > utcnow()


async def test_a_server_error_is_retried(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    world.fake.fail(1)
    await relay_once(world, sessions)
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("pending", 1)


async def test_status_webhooks_land_on_the_outbox_row_and_never_go_back(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    await relay_once(world, sessions)
    wamid = world.fake.sends[0].wamid
    number = world.fake.phone_number_id
    for state in ("delivered", "read", "delivered"):  # a late "delivered" after "read"
        assert await world.fake.deliver(world.url, wa.status(number, wamid, state, PHONE)) == 200
    row = await _row(sessions)
    assert (row.delivery_status, row.delivery_error) == ("read", None)
    failed = wa.status(number, wamid, "failed", PHONE, code=131026)
    assert await world.fake.deliver(world.url, failed) == 200
    row = await _row(sessions)
    assert row.delivery_status == "failed"
    assert (row.delivery_error or "").startswith("131026")


async def test_a_status_of_a_message_we_do_not_know_changes_nothing(world, sessions):
    tipster = await _tipster(sessions)
    await _writes(world)
    await _enqueue(sessions, tipster, _lead())
    await relay_once(world, sessions)
    stranger = wa.status(world.fake.phone_number_id, "wamid.other", "read", PHONE)
    assert await world.fake.deliver(world.url, stranger) == 200
    assert (await _row(sessions)).delivery_status == "sent"
