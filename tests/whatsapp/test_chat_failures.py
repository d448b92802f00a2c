"""Failures on WhatsApp lose nothing and double nothing: a photo Meta no longer has is explained
to the person (the tip is kept); a processor that dies between routing a message and its commit
leaves no reply, state or mark behind, and the retry answers once; a message that keeps failing
is parked with its reason."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.i18n import Texts
from handlers.chats.processor import Transport
from handlers.whatsapp.channel import WhatsAppChannel
from storage.models import OutboxMessage, Tip, TipPhoto, WhatsAppInbound
from storage.types import utcnow
from tests.fakes.whatsapp import payloads as wa
from tests.whatsapp.chats import Line, choices, jpeg, whatsapp_line

EN = Texts("en", "chat")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


class Later:
    """The processor's clock: the time, moved past each backoff by hand."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self):
        return utcnow() + self.ahead

    def wait(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)


class Crash(Exception):
    """The process dies here."""


def crashing(transport: Transport, *, on: str, times: int = 1) -> Transport:
    """The transport, whose channel dies `times` times when a reply says `on`: after the flow
    did its work and wrote its replies, before the commit."""
    left = [times]

    class Dying(WhatsAppChannel):
        async def send_text(self, chat_id, text, buttons=None):
            await super().send_text(chat_id, text, buttons)
            if on in text and left[0] > 0:
                left[0] -= 1
                raise Crash(on)

    return dataclasses.replace(transport, channel=Dying)


async def _count(sessions, model, *where) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def _to_summary(line: Line, *, media_id: str | None = None) -> None:
    (when,) = await line.sends(*wa.text("A girl in a red coat, crying"))
    await line.taps(when, EN("button.when_now"))
    (media,) = await line.sends(*wa.location(34.2658, 108.9541, "Xi'an Railway Station"))
    if media_id is not None:
        (media,) = await line.sends(*wa.image(media_id))
    (contact,) = await line.taps(media, EN("button.done" if media_id else "button.skip"))
    await line.taps(contact, EN("button.contact_no"))


async def test_a_photo_meta_no_longer_has_is_explained_and_the_tip_kept(line, sessions):
    media_id = line.world.fake.add_media(jpeg(2))
    await _to_summary(line, media_id=media_id)
    await line.taps(line.world.fake.sends[-1], EN("button.send"))
    line.world.fake.expire_media(media_id)
    assert await line.photos.run_once() == 1
    (refused,) = await line.settle()
    async with sessions() as session:
        tip = (await session.scalars(select(Tip))).one()
        photo = (await session.scalars(select(TipPhoto))).one()
    reason = EN("photo.refused.gone")
    assert refused.body["text"]["body"] == EN("photo.refused", ref=tip.ref, reason=reason)
    assert (photo.status, photo.reject_reason) == ("rejected", "gone")


async def test_a_crash_after_the_tip_is_stored_answers_once_and_stores_it_once(line, sessions):
    await _to_summary(line)
    clock = line.processor.clock = Later()
    sent = EN("report.sent", ref="")[:20]
    line.processor.transport = crashing(line.processor.transport, on=sent)
    summary = line.world.fake.sends[-1]
    assert await line.taps(summary, EN("button.send")) == []  # died before its commit
    pending = WhatsAppInbound.status == "pending"
    assert await _count(sessions, WhatsAppInbound, pending) == 1
    clock.wait(60)
    (answered,) = await line.settle()
    (tip,) = await _tips(sessions)
    assert answered.body["text"]["body"] == EN("report.sent", ref=tip.ref)
    assert await _count(sessions, OutboxMessage) == len(line.world.fake.sends)


async def test_a_crash_before_the_commit_leaves_nothing_and_the_retry_answers_once(line, sessions):
    clock = line.processor.clock = Later()
    ask_when = EN("report.ask_when")
    line.processor.transport = crashing(line.processor.transport, on=ask_when)
    assert await line.sends(*wa.text("a boy by the river")) == []
    assert await _count(sessions, OutboxMessage) == 0
    assert await line.settle() == []  # not due yet: it backs off
    clock.wait(60)
    (when,) = await line.settle()
    assert ask_when in when.body["interactive"]["body"]["text"]
    assert EN("button.when_now") in choices(when)


async def test_a_message_that_keeps_failing_is_parked_with_its_reason(line, sessions):
    clock = line.processor.clock = Later()
    line.processor.transport = crashing(line.processor.transport, on="", times=99)
    await line.sends(*wa.text("a boy by the river"))
    for _ in range(6):
        clock.wait(600)
        await line.settle()
    async with sessions() as session:
        message = (await session.scalars(select(WhatsAppInbound))).one()
    assert (message.status, message.attempts) == ("parked", 5)
    assert message.last_error.startswith("Crash") and message.payload["text"]["body"]
    assert line.world.fake.sends == []


async def _tips(sessions) -> list[Tip]:
    async with sessions() as session:
        return list((await session.scalars(select(Tip))).all())
