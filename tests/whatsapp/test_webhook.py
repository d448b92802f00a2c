"""POST/GET /whatsapp/webhook through a real server, fed by the fake Graph API: handshake,
signatures, replays, malformed bodies, every message type, and 503 when the database is down.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from storage.db import create_engine, create_sessionmaker
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import VERIFY_TOKEN, FakeWhatsApp
from tests.keys import TEST_VAULT
from tests.whatsapp.world import World, context, inbox, served
from web.app import create_app

PHONE = "447700900123"


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


def _text(world: World, body: str = "I saw her", *, wamid: str | None = None) -> dict:
    kind, content = wa.text(body)
    return wa.message(world.fake.phone_number_id, PHONE, kind, content, wamid=wamid)


async def _get(world: World, params: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(world.url, params=params)


async def test_the_handshake_echoes_the_challenge_for_our_verify_token(world):
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
    response = await _get(world, params)
    assert (response.status_code, response.text) == (200, "1158")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN + "x", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
    ],
)
async def test_a_handshake_with_a_wrong_token_or_mode_is_403(world, params, caplog):
    with caplog.at_level(logging.WARNING, "tipline.whatsapp"):
        response = await _get(world, params)
    assert response.status_code == 403
    assert "verification refused" in caplog.text


async def test_a_message_is_committed_before_200_and_a_replay_is_admitted_once(world, sessions):
    payload = _text(world)
    assert await world.fake.deliver(world.url, payload) == 200
    assert await world.fake.deliver(world.url, payload) == 200  # Meta delivers at least once
    rows = await inbox(sessions)
    assert [(r.kind, r.payload["text"]["body"], r.status) for r in rows] == [
        ("text", "I saw her", "pending")
    ]


async def test_the_sender_number_is_only_keyed_and_sealed(world, sessions):
    assert await world.fake.deliver(world.url, _text(world)) == 200
    (row,) = await inbox(sessions)
    stored = json.dumps(row.payload) + row.sender_key + row.message_id
    assert PHONE not in stored and "Wei" not in stored
    assert TEST_VAULT.open(row.sealed_sender) == {
        "channel": "whatsapp",
        "external_id": PHONE,
        "name": "Wei",
    }
    again = _text(world, "and again")
    assert await world.fake.deliver(world.url, again) == 200
    assert len({r.sender_key for r in await inbox(sessions)}) == 1  # one person, one key


@pytest.mark.parametrize(
    ("secret", "sign", "status"),
    [(None, False, 401), ("forged-secret", True, 403), ("", True, 403)],
)
async def test_unsigned_or_forged_webhooks_are_refused_and_nothing_stored(
    world, sessions, caplog, secret, sign, status
):
    with caplog.at_level(logging.WARNING, "tipline.whatsapp"):
        answer = await world.fake.deliver(world.url, _text(world), secret=secret, sign=sign)
    assert answer == status
    assert "refused" in caplog.text
    assert await inbox(sessions) == []


async def test_a_body_changed_after_signing_is_refused(world, sessions):
    body = wa.dumps(_text(world))
    header = wa.signature(world.fake.app_secret, body)
    tampered = body.replace(b"I saw her", b"I saw him")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            world.url, content=tampered, headers={"X-Hub-Signature-256": header}
        )
    assert response.status_code == 403
    assert await inbox(sessions) == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe", b"[1,2]", b'{"entry": 1}', b'{"entry": [{"changes": [1]}]}'],
)
async def test_a_signed_body_that_is_no_webhook_is_400_with_a_log_line(world, body, caplog):
    with caplog.at_level(logging.WARNING, "tipline.whatsapp"):
        assert await world.fake.deliver_raw(world.url, body) == 400
    assert "whatsapp webhook refused" in caplog.text


@pytest.mark.parametrize("sender", ["+447700900123", "0044 7700", "12", "abc", ""])
async def test_a_sender_number_in_an_unexpected_format_is_skipped_with_a_log_line(
    world, sessions, caplog, sender
):
    payload = wa.message(world.fake.phone_number_id, sender, *wa.text("hi"))
    ok = _text(world, "kept")
    payload["entry"][0]["changes"][0]["value"]["messages"].append(
        ok["entry"][0]["changes"][0]["value"]["messages"][0]
    )
    with caplog.at_level(logging.WARNING, "tipline.whatsapp"):
        assert await world.fake.deliver(world.url, payload) == 200
    assert "unexpected format" in caplog.text
    assert "7700900123" not in caplog.text  # numbers are never logged
    assert [r.payload["text"]["body"] for r in await inbox(sessions)] == ["kept"]


async def test_every_message_type_is_admitted_and_contact_cards_only_sealed(world, sessions):
    media = world.fake.add_media(b"jpeg")
    kinds = [
        wa.location(31.2304, 121.4737, "People's Square"),
        wa.image(media, "by the gate"),
        wa.document(media, "IMG_0001.jpg"),
        wa.button_reply("flow:yes", "Yes"),
        wa.list_reply("area:3", "Pudong"),
        wa.sticker(media),
        wa.reaction("wamid.x", "👍"),
        wa.contacts("Uncle Li", "+86 138 0000 0000"),
    ]
    for kind, body in kinds:
        payload = wa.message(world.fake.phone_number_id, PHONE, kind, body)
        assert await world.fake.deliver(world.url, payload) == 200
    rows = await inbox(sessions)
    assert [r.kind for r in rows] == [k for k, _ in kinds]
    assert rows[0].payload["location"]["latitude"] == 31.2304
    assert rows[4].payload["interactive"]["list_reply"]["id"] == "area:3"
    contact_row = rows[-1]
    assert "138" not in json.dumps(contact_row.payload)
    sealed = TEST_VAULT.open(contact_row.sealed_sender)
    assert sealed["shared_contacts"][0]["phones"][0]["phone"] == "+86 138 0000 0000"


async def test_a_webhook_for_another_number_or_field_stores_nothing(world, sessions):
    other = wa.message("999999999", PHONE, *wa.text("hi"))
    assert await world.fake.deliver(world.url, other) == 200
    template_news = _text(world)
    template_news["entry"][0]["changes"][0]["field"] = "message_template_status_update"
    assert await world.fake.deliver(world.url, template_news) == 200
    assert await inbox(sessions) == []


async def test_database_down_is_503_so_meta_retries(tmp_path):
    engine = create_engine("postgresql+asyncpg://root@127.0.0.1:1/none")
    ctx = context(engine, create_sessionmaker(engine), tmp_path)
    fake = FakeWhatsApp()
    body = wa.dumps(wa.message(fake.phone_number_id, PHONE, *wa.text("hi")))
    headers = {"X-Hub-Signature-256": wa.signature(fake.app_secret, body)}
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/whatsapp/webhook", content=body, headers=headers)
    assert response.status_code == 503
    assert ctx.whatsapp is not None
    await ctx.whatsapp.admission.close()
    await engine.dispose()


async def test_with_whatsapp_off_the_endpoint_is_not_there(engine, sessions, tmp_path):
    ctx = context(engine, sessions, tmp_path)
    assert ctx.whatsapp is not None
    await ctx.whatsapp.admission.close()
    ctx.whatsapp = None
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        posted = await client.post("/whatsapp/webhook", content=b"{}")
        handshake = await client.get("/whatsapp/webhook", params={"hub.mode": "subscribe"})
    assert (posted.status_code, handshake.status_code) == (404, 404)
