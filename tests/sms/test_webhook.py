"""POST /sms/webhook through a real server, fed by the fake provider: signatures (missing,
forged, replayed onto other content or another URL), redeliveries, sender numbers in
unexpected formats, photos, and 503 when the database is down."""

from __future__ import annotations

import logging

import httpx
import pytest

from core.sms.admission import sender_key
from core.sms.webhook import signature
from storage.db import create_engine, create_sessionmaker
from tests.fakes.sms.server import AUTH_TOKEN, FakeSms
from tests.keys import TEST_VAULT
from tests.sms.world import context, inbox, served
from web.app import create_app

PHONE = "+447700900123"
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


async def test_a_text_is_committed_before_an_empty_twiml_200_and_a_redelivery_is_one_row(
    world, sessions
):
    fields = world.fake.inbound(PHONE, "I saw her at the bus stop")
    assert await world.fake.deliver(world.url, fields) == (200, EMPTY)
    assert await world.fake.deliver(world.url, fields) == (200, EMPTY)
    rows = await inbox(sessions)
    assert [(r.kind, r.payload, r.status) for r in rows] == [
        ("text", {"body": "I saw her at the bus stop"}, "pending")
    ]
    assert rows[0].message_sid == fields["MessageSid"]


async def test_the_sender_number_is_only_keyed_and_sealed(world, sessions):
    for body in ("one", "two"):
        assert (await world.fake.deliver(world.url, world.fake.inbound(PHONE, body)))[0] == 200
    rows = await inbox(sessions)
    assert {r.sender_key for r in rows} == {sender_key(TEST_VAULT, PHONE)}
    assert all(PHONE[1:] not in str(r.payload) + r.sender_key for r in rows)
    assert TEST_VAULT.open(rows[0].sealed_sender) == {"channel": "sms", "external_id": PHONE}


@pytest.mark.parametrize(
    ("token", "sign", "status"),
    [(None, False, 401), ("forged-token", True, 403), ("", True, 403)],
)
async def test_unsigned_or_forged_webhooks_are_refused_and_nothing_stored(
    world, sessions, caplog, token, sign, status
):
    fields = world.fake.inbound(PHONE, "hi")
    with caplog.at_level(logging.WARNING, "tipline.sms"):
        answer, _ = await world.fake.deliver(world.url, fields, token=token, sign=sign)
    assert answer == status
    assert "refused" in caplog.text
    assert await inbox(sessions) == []


async def test_a_signature_replayed_onto_other_content_or_from_another_url_is_refused(
    world, sessions
):
    genuine = world.fake.inbound(PHONE, "I saw her")
    header = signature(AUTH_TOKEN, world.url, genuine.items())
    changed = {**genuine, "Body": "I saw him", "MessageSid": "SM" + "f" * 32}
    assert (await world.fake.deliver(world.url, changed, header=header))[0] == 403
    elsewhere = "https://other.example.org/sms/webhook"
    assert (await world.fake.deliver(world.url, genuine, signed_url=elsewhere))[0] == 403
    assert await inbox(sessions) == []


async def test_the_query_string_is_part_of_what_is_signed(world, sessions):
    fields = world.fake.inbound(PHONE, "hi")
    url = world.url + "?site=shanghai"
    assert (await world.fake.deliver(url, fields))[0] == 200
    assert (await world.fake.deliver(url, fields, signed_url=world.url))[0] == 403
    assert len(await inbox(sessions)) == 1


@pytest.mark.parametrize(
    "sender", ["447700900123", "+44 7700 900123", "0044 7700 900123", "+0447700", "+12", "", "abc"]
)
async def test_a_sender_number_in_an_unexpected_format_is_refused_with_a_log_line(
    world, sessions, caplog, sender
):
    with caplog.at_level(logging.WARNING, "tipline.sms"):
        status, _ = await world.fake.deliver(world.url, world.fake.inbound(sender, "hi"))
    assert status == 200  # a redelivery could never succeed
    assert "unexpected format" in caplog.text
    assert "7700" not in caplog.text  # numbers are never logged
    assert await inbox(sessions) == []


async def test_a_signed_form_without_a_message_sid_is_400(world, sessions, caplog):
    fields = world.fake.inbound(PHONE, "hi")
    del fields["MessageSid"], fields["SmsSid"]
    with caplog.at_level(logging.WARNING, "tipline.sms"):
        assert (await world.fake.deliver(world.url, fields))[0] == 400
    assert "sms webhook refused" in caplog.text


async def test_a_photo_is_answered_with_where_photos_go_and_its_text_kept(world, sessions):
    fields = world.fake.inbound(PHONE, "this is her", media=2)
    status, body = await world.fake.deliver(world.url, fields)
    assert status == 200
    assert "<Message>Photos cannot be sent by SMS" in body
    assert "https://tips.example.org/report" in body
    alone = world.fake.inbound(PHONE, "", media=1)
    assert (
        "<Message>Photos cannot be sent by SMS" in (await world.fake.deliver(world.url, alone))[1]
    )
    rows = await inbox(sessions)
    assert [(r.kind, r.payload, r.status) for r in rows] == [
        ("text", {"body": "this is her", "media": 2}, "pending"),
        ("media", {"media": 1}, "done"),  # already answered: no flow reads it
    ]


async def test_database_down_is_503(tmp_path):
    engine = create_engine("postgresql+asyncpg://root@127.0.0.1:1/none")
    url = "http://t/sms/webhook"
    ctx = context(engine, create_sessionmaker(engine), tmp_path, "http://t")
    fields = FakeSms().inbound(PHONE, "hi")
    headers = {"X-Twilio-Signature": signature(AUTH_TOKEN, url, fields.items())}
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/sms/webhook", data=fields, headers=headers)
    assert response.status_code == 503
    assert ctx.sms is not None
    await ctx.sms.admission.close()
    await engine.dispose()


async def test_with_sms_off_the_endpoint_is_not_there(engine, sessions, tmp_path):
    ctx = context(engine, sessions, tmp_path, "http://t")
    assert ctx.sms is not None
    await ctx.sms.admission.close()
    ctx.sms = None
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/sms/webhook", data={"Body": "hi"})).status_code == 404
