"""A whole tip on SMS, through the same flow code as Telegram: signed texts in, the chat
processor, numbered replies through the relay to the fake provider; read as a transcript."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.i18n import Texts
from core.sms.render import MAX_SEGMENTS
from core.sms.segments import size
from storage.models import OutboxMessage, SmsInbound, Tip
from tests.sms.chats import Line, number_of, sms_line

EN, ZH = Texts("en", "sms"), Texts("zh-Hans", "sms")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with sms_line(engine, sessions, tmp_path) as line:
        yield line


async def _tips(sessions) -> list[Tip]:
    async with sessions() as session:
        return list((await session.scalars(select(Tip))).all())


async def _walk_to_summary(line: Line) -> str:
    """What was seen, now, a typed town, no photos, anonymous: the summary."""
    (when,) = await line.texts("A girl in a red coat with a man, crying")
    assert EN("report.ask_when") in when
    (where,) = await line.picks(when, EN("button.when_now"))
    assert EN("report.ask_where").split(".")[0] in where
    (photos,) = await line.texts("Xi'an")
    (contact,) = await line.picks(photos, EN("button.skip"))
    (summary,) = await line.texts(number_of(contact, contact.split("\n")[1][2:]))
    assert EN("summary.title") in summary
    return summary


async def test_a_whole_tip_is_stored_once_through_the_telegram_flow(line, sessions):
    summary = await _walk_to_summary(line)
    assert "red coat" in summary and "Xi'an" in summary
    (sent,) = await line.picks(summary, EN("button.send"))
    (tip,) = await _tips(sessions)
    assert sent == EN("report.sent", ref=tip.ref)
    assert tip.channel == "sms" and "red coat" in tip.text and not tip.contact_allowed
    replies = [text for text in line.transcript if not text.startswith("> ")]
    assert all(size(text).segments <= MAX_SEGMENTS for text in replies)
    assert all(size(text).encoding == "GSM-7" for text in replies)  # no emoji, no curly quote
    print("\n".join(line.transcript))


async def test_a_redelivered_send_and_a_second_send_store_nothing_more(line, sessions):
    summary = await _walk_to_summary(line)
    send = number_of(summary, EN("button.send"))
    fields = line.world.fake.inbound(line.phone, send)
    for _ in range(2):  # the provider posts the same message twice
        assert (await line.world.fake.deliver(line.world.url, fields))[0] == 200
    (sent,) = await line.settle()
    (again,) = await line.texts(send)  # the person sends "1" again: a new message
    (tip,) = await _tips(sessions)
    assert sent == again == EN("report.sent", ref=tip.ref)
    async with sessions() as session:
        replies = await session.scalar(select(func.count()).select_from(OutboxMessage))
        left = await session.scalar(select(func.count()).where(SmsInbound.status == "pending"))
        reduced = (await session.scalars(select(SmsInbound.payload))).all()
    assert replies == len(line.world.fake.sends) and left == 0
    assert all(payload == {} for payload in reduced)  # processed texts keep nothing


async def test_zero_goes_back_and_a_number_off_the_menu_is_text(line):
    (when,) = await line.texts("A boy in a blue cap")
    (where,) = await line.picks(when, EN("button.when_now"))
    (back,) = await line.texts("0")
    assert EN("report.ask_when") in back
    (where_again,) = await line.texts("1")
    assert where_again == where
    (typed,) = await line.texts("42")  # not on the menu: a place typed as a number
    assert "42" in typed


async def test_a_chinese_tipster_is_answered_in_chinese_within_three_ucs2_segments(line):
    line.phone = "+8613800001111"
    (when,) = await line.texts("我看到一个穿红衣服的女孩和一个男人在一起")
    assert ZH("report.ask_when") in when
    assert size(when).encoding == "UCS-2" and size(when).segments <= MAX_SEGMENTS
    (where,) = await line.picks(when, ZH("button.when_now"))
    assert size(where).segments <= MAX_SEGMENTS


async def test_after_stop_nothing_more_is_sent_and_start_resumes(line, sessions):
    (when,) = await line.texts("A girl in a red coat")
    assert await line.texts("STOP") == []
    assert await line.picks(when, EN("button.when_now")) == []  # answered, never sent
    async with sessions() as session:
        dead = (
            await session.scalars(
                select(OutboxMessage.last_error).where(OutboxMessage.status == "dead")
            )
        ).all()
    assert dead == ["opted out: the number texted STOP"]
    assert await line.texts("START") == []
    (where,) = await line.texts("0")
    assert EN("report.ask_when") in where
