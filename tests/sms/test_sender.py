"""The SMS sender through the real relay and the fake provider: the number opened from the
vault at send time, opted-out numbers dropped with a reason, 21610 / 21211 permanent, 429
flood, 5xx and bad credentials retried, the SID kept on the row."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from core.delivery.outbox import enqueue, tipster_recipient
from core.identity.tipsters import get_or_create_tipster
from core.sms import payloads
from core.sms.admission import sender_key
from storage.models import OutboxMessage
from tests.fakes.sms.server import FakeSms
from tests.keys import TEST_VAULT
from tests.sms.world import opt_outs, served, sms_relay

PHONE = "+8613800001111"


@pytest.fixture
async def fake():
    async with FakeSms() as fake:
        yield fake


async def _tipster(sessions, channel: str = "sms") -> int:
    """An SMS tipster, made by the use case the conversation flow calls."""
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session, TEST_VAULT, channel=channel, external_id=PHONE, identity={}, language="en"
        )
        return tipster.id


async def _enqueue(
    sessions, tipster_id: int, text: str = "Thank you. Reference K7Q2.", *, key: str = "s1"
) -> None:
    async with sessions() as session:
        recipient = tipster_recipient(tipster_id)
        payload = payloads.text(text)
        await enqueue(session, channel="sms", recipient=recipient, payload=payload, key=key)
        await session.commit()


async def _relay_once(
    fake: FakeSms, sessions, *, token: str | None = None, status_url: str | None = None
) -> None:
    async with aiohttp.ClientSession() as http:
        relay, _ = sms_relay(fake, sessions, http, token=token, status_url=status_url)
        await relay.run_once()


async def _row(sessions) -> OutboxMessage:
    async with sessions() as session:
        return (await session.scalars(select(OutboxMessage))).one()


async def test_a_text_goes_to_the_number_in_the_vault_and_its_sid_is_kept(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions))
    await _relay_once(fake, sessions)
    (send,) = fake.sends
    assert (send.to, send.sender, send.body) == (PHONE, fake.number, "Thank you. Reference K7Q2.")
    row = await _row(sessions)
    assert (row.status, row.external_id, row.delivery_status) == ("sent", send.sid, "sent")
    assert PHONE not in row.recipient + str(row.payload)


async def test_a_number_that_texted_stop_gets_nothing_and_the_row_says_why(
    engine, sessions, tmp_path
):
    tipster = await _tipster(sessions)
    async with served(engine, sessions, tmp_path) as world:
        await world.fake.deliver(world.url, world.fake.inbound(PHONE, "stop"))
        await _enqueue(sessions, tipster)
        await _relay_once(world.fake, sessions)
        assert world.fake.state.sends == []
    row = await _row(sessions)
    assert (row.status, row.last_error) == ("dead", "opted out: the number texted STOP")


async def test_delivery_statuses_land_on_the_row_and_never_move_back(engine, sessions, tmp_path):
    await _enqueue(sessions, await _tipster(sessions))
    async with served(engine, sessions, tmp_path) as world:
        await _relay_once(world.fake, sessions, status_url=world.status_url)
        (send,) = world.fake.sends
        assert send.status_callback == world.status_url
        assert await world.fake.report(send, "queued") == 204  # nothing to record
        assert await world.fake.report(send, "delivered") == 204
        assert await world.fake.report(send, "sent") == 204  # late: stays delivered
        assert (await _row(sessions)).delivery_status == "delivered"
        assert await world.fake.report(send, "undelivered", error_code=30006) == 204
        forged = {"MessageSid": send.sid, "MessageStatus": "delivered"}
        assert (await world.fake.deliver(world.status_url, forged, token="forged"))[0] == 403
    row = await _row(sessions)
    assert (row.delivery_status, row.delivery_error) == ("failed", "30006: undelivered")


async def test_21610_unsubscribed_is_permanent_and_remembered_as_an_opt_out(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions))
    fake.fail(21610)
    await _relay_once(fake, sessions)
    row = await _row(sessions)
    assert row.status == "dead"
    assert row.last_error.startswith("opted out: 400 (code 21610)")
    assert await opt_outs(sessions) == [sender_key(TEST_VAULT, PHONE)]


async def test_a_21610_in_a_later_status_callback_opts_the_number_out(engine, sessions, tmp_path):
    tipster = await _tipster(sessions)
    await _enqueue(sessions, tipster)
    async with served(engine, sessions, tmp_path) as world:
        await _relay_once(world.fake, sessions, status_url=world.status_url)
        (send,) = world.fake.sends
        assert await world.fake.report(send, "undelivered", error_code=21610) == 204
        assert await opt_outs(sessions) == [sender_key(TEST_VAULT, PHONE)]
        row = await _row(sessions)
        assert (row.delivery_status, row.delivery_error) == ("failed", "21610: undelivered")
        await _enqueue(sessions, tipster, "A second notice", key="s2")
        await _relay_once(world.fake, sessions)
        assert len(world.fake.sends) == 1  # nothing more goes to the number
    async with sessions() as session:
        second = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "s2")
        )
    assert (second.status, second.last_error) == ("dead", "opted out: the number texted STOP")


async def test_21211_invalid_number_is_permanent_with_the_providers_reason(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions))
    fake.fail(21211)
    await _relay_once(fake, sessions)
    row = await _row(sessions)
    assert row.status == "dead"
    assert "21211" in row.last_error and "not a valid phone number" in row.last_error


async def test_too_many_requests_is_flood_control_not_a_failed_attempt(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions))
    fake.fail(20429)
    await _relay_once(fake, sessions)
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.last_error == "flood control: retry after 2 s"  # the fake's Retry-After
    assert row.next_attempt_at > row.created_at


@pytest.mark.parametrize("code", [20500, 20003])
async def test_a_server_error_or_refused_credentials_are_retried(fake, sessions, code):
    await _enqueue(sessions, await _tipster(sessions))
    fake.fail(code)
    await _relay_once(fake, sessions)
    row = await _row(sessions)
    assert (row.status, row.attempts) == ("pending", 1)
    assert f"code {code}" in row.last_error


async def test_the_wrong_auth_token_is_refused_by_the_provider_and_retried(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions))
    await _relay_once(fake, sessions, token="not-the-token")
    assert fake.state.refused_auth == 1
    assert (await _row(sessions)).status == "pending"


async def test_a_tipster_on_another_channel_is_unreachable_by_sms(fake, sessions):
    await _enqueue(sessions, await _tipster(sessions, channel="whatsapp"))
    await _relay_once(fake, sessions)
    row = await _row(sessions)
    assert (row.status, row.last_error) == ("dead", "unreachable: the tipster is not on sms")
    assert fake.state.sends == []


def test_an_sms_payload_is_one_to_1600_characters():
    assert payloads.text("hi") == {"text": "hi"}
    for bad in ("", "  ", "a" * 1601):
        with pytest.raises(ValueError, match=r"1\.\.1600"):
            payloads.text(bad)
