"""A whole tip on WhatsApp, through the same flow code as Telegram: signed webhooks in, the
chat processor, replies through the relay to the fake Graph API, the photo worker; read as the
transcript the fake recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.i18n import Texts
from storage.models import OutboxMessage, Tip, TipPhoto, WhatsAppInbound
from tests.fakes.whatsapp import payloads as wa
from tests.whatsapp.chats import Line, choices, jpeg, whatsapp_line

EN = Texts("en", "chat")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


async def _tips(sessions) -> list[Tip]:
    async with sessions() as session:
        return list((await session.scalars(select(Tip))).all())


async def _walk_to_summary(line: Line) -> None:
    """What was seen, now, a pin with its name, a photo, done, anonymous: the summary."""
    (when,) = await line.sends(*wa.text("A girl in a red coat with a man, crying"))
    assert EN("report.ask_when") in when.body["interactive"]["body"]["text"]
    (where,) = await line.taps(when, EN("button.when_now"))
    assert EN("report.ask_where") in where.body["interactive"]["body"]["text"]
    await line.sends(*wa.location(34.2658, 108.9541, "Xi'an Railway Station"))
    media_id = line.world.fake.add_media(jpeg(1))
    (counted,) = await line.sends(*wa.image(media_id, "she had a pink backpack"))
    assert "1" in counted.body["interactive"]["body"]["text"]
    (contact,) = await line.taps(counted, EN("button.done"))
    (summary,) = await line.taps(contact, EN("button.contact_no"))
    assert EN("summary.title") in summary.body["interactive"]["body"]["text"]


async def test_a_whole_tip_with_a_place_and_a_photo_is_stored_once(line, sessions):
    await _walk_to_summary(line)
    summary = line.world.fake.sends[-1]
    text = summary.body["interactive"]["body"]["text"]
    assert "red coat" in text and "pink backpack" in text and "Railway Station" in text
    (sent,) = await line.taps(summary, EN("button.send"))
    (tip,) = await _tips(sessions)
    assert sent.body["text"]["body"] == EN("report.sent", ref=tip.ref)
    assert "/status" not in sent.body["text"]["body"]  # a Telegram command
    assert tip.channel == "whatsapp" and tip.lat == pytest.approx(34.2658)
    assert "red coat" in tip.text and not tip.contact_allowed
    assert await line.photos.run_once() == 1
    async with sessions() as session:
        (photo,) = (await session.scalars(select(TipPhoto))).all()
    assert photo.status == "processed" and photo.display_sha256
    assert photo.source_ref.startswith("whatsapp:")
    print("\n".join(line.transcript))


async def test_a_replayed_send_and_a_second_tap_store_nothing_more(line, sessions):
    await _walk_to_summary(line)
    summary = line.world.fake.sends[-1]
    send_id = choices(summary)[EN("button.send")]
    tap = wa.message(line.world.fake.phone_number_id, line.phone, *wa.button_reply(send_id, "x"))
    for _ in range(2):  # Meta delivers the same webhook twice
        assert await line.world.fake.deliver(line.world.url, tap) == 200
    (sent,) = await line.settle()
    (again,) = await line.taps(summary, EN("button.send"))  # a second tap, a new message
    (tip,) = await _tips(sessions)
    assert sent.body["text"]["body"] == again.body["text"]["body"] == EN("report.sent", ref=tip.ref)
    async with sessions() as session:
        replies = await session.scalar(select(func.count()).select_from(OutboxMessage))
        left = await session.scalar(
            select(func.count()).where(WhatsAppInbound.status != "processed")
        )
    assert replies == len(line.world.fake.sends) and left == 0
