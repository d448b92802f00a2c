"""A sighting report from start to reference, in English and Chinese, with back, skip and cancel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.bot.fixtures import (
    all_photos,
    all_tips,
    assert_all_processed,
    fsm_state,
    jpeg,
    photos_of,
    sent_ref,
    walk_to_summary,
)

CHAT = 3001


async def test_whole_report_in_english_ends_with_the_tip_whose_ref_was_shown(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    assert [label for label, _ in chat.buttons(CHAT)] == [
        "Report a sighting",
        "Check a tip",
        "About & privacy",
    ]
    await chat.press(CHAT, "Report a sighting")
    assert "What did you see?" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Girl, about 8, red coat, with a tall man"))
    assert "When did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Another day")
    await chat.send(fake.text_message(CHAT, "2025-03-01 14:30"))
    assert "Where did you see this?" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Xi'an"))
    assert "Place saved: Xi’an, Shaanxi, China." in chat.last_text(CHAT)
    await chat.send(fake.photo_message(CHAT, jpeg(1)))
    assert "1 of 10 files so far" in chat.last_text(CHAT)
    await chat.press(CHAT, "Done")
    await chat.press(CHAT, "Yes, you may message me here")
    summary = chat.last_text(CHAT)
    assert "When: 2025-03-01 14:30, local time (Asia/Shanghai)" in summary
    assert "Where: Xi’an, Shaanxi, China" in summary
    assert "Photos and videos: 1" in summary
    await chat.press(CHAT, "Send report")

    ref = sent_ref(chat.last_text(CHAT))
    [tip] = await all_tips(chat.sessions)
    assert tip.ref == ref
    assert tip.channel == "telegram" and tip.language == "en"
    assert tip.text == "Girl, about 8, red coat, with a tall man"
    assert tip.place_text == "Xi’an, Shaanxi, China"
    assert tip.location_source == "typed" and tip.lat == pytest.approx(34.26, abs=0.2)
    assert tip.seen_at == datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert tip.seen_at_precision == "day"
    assert tip.contact_allowed is True
    assert tip.source_key.startswith("telegram:") and str(CHAT) not in tip.source_key
    [photo] = await photos_of(chat.sessions, tip.id)
    assert photo.kind == "photo" and photo.status == "quarantined"
    assert photo.source_ref.startswith("telegram:fake-photo-")
    assert photo.mime_type == "image/jpeg" and photo.size_bytes == len(jpeg(1))
    assert tip.details["file_unique_ids"][photo.source_ref].startswith("uniq")
    assert await fsm_state(chat, CHAT) is None
    await assert_all_processed(chat)


async def test_whole_report_in_chinese(chat, fake):
    def zh(text: str) -> dict:
        return fake.text_message(CHAT, text, language_code="zh-hans")

    await chat.send(zh("/start"))
    assert "走失" in chat.last_text(CHAT)
    await chat.press(CHAT, "报告目击线索")
    assert "您看到了什么" in chat.last_text(CHAT)
    await chat.send(zh("一个穿红色外套的小女孩，和一个高个子男人在一起"))
    assert "什么时候" in chat.last_text(CHAT)
    await chat.press(CHAT, "其他日期")
    await chat.send(zh("2025年3月1日 下午2点半"))
    assert "在哪里" in chat.last_text(CHAT)
    await chat.send(zh("西安"))
    assert "地点已保存：西安市，陕西省，中国" in chat.last_text(CHAT)
    await chat.press(CHAT, "跳过")
    await chat.press(CHAT, "不用，保持匿名")
    summary = chat.last_text(CHAT)
    assert "当地时间（Asia/Shanghai）" in summary and "不联系" in summary
    await chat.press(CHAT, "发送报告")

    reply = chat.last_text(CHAT)
    assert "谢谢您，报告已发送" in reply
    [tip] = await all_tips(chat.sessions)
    assert sent_ref(reply) == tip.ref
    assert tip.language == "zh-Hans"
    assert tip.text == "一个穿红色外套的小女孩，和一个高个子男人在一起"
    assert tip.place_text == "Xi’an, Shaanxi, China"
    assert tip.seen_at == datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert tip.contact_allowed is False
    assert await all_photos(chat.sessions) == []
    await assert_all_processed(chat)


async def test_back_walks_every_step_in_reverse(chat, fake):
    await chat.send(fake.text_message(CHAT, "A boy in a green cap"))
    await chat.press(CHAT, "Earlier today")
    assert "At what time today?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")
    assert "When did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")
    assert "What did you see?" in chat.last_text(CHAT)
    assert [label for label, _ in chat.buttons(CHAT)] == ["Next ›", "Cancel"]  # no cases
    await chat.press(CHAT, "Next")
    await chat.press(CHAT, "Now")
    await chat.send(fake.text_message(CHAT, "Springfield"))
    assert "Did you mean" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")
    assert "Where did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Back")  # media -> where
    assert "Where did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")  # where -> when
    assert "When did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Now")  # answered again: straight on to the first open step
    assert "photos or videos" in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Back")  # contact -> media
    assert "photos or videos" in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    await chat.press(CHAT, "Back")  # confirm -> contact
    assert "May we contact you" in chat.last_text(CHAT)
    await chat.press(CHAT, "Yes")
    assert "Contact: you may be messaged" in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "A boy in a green cap" and tip.seen_at_precision == "now"
    assert tip.place_text is None and tip.contact_allowed is True
    await assert_all_processed(chat)


async def test_skipping_everything_cannot_send_an_empty_report(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    for _ in range(4):  # what, when, where, media
        await chat.press(CHAT, "Skip" if "When did" not in chat.last_text(CHAT) else "I don't")
    await chat.press(CHAT, "No, keep")
    summary = chat.last_text(CHAT)
    assert "(nothing written)" in summary and "When: not given" in summary
    assert "Where: not given" in summary
    await chat.press(CHAT, "Send report")
    assert "needs at least what you saw" in chat.last_text(CHAT)
    assert "What did you see?" in chat.last_text(CHAT)
    assert await all_tips(chat.sessions) == []
    await chat.send(fake.text_message(CHAT, "Saw her at the bus stop"))
    assert "Please check your report" in chat.last_text(CHAT)  # the rest was answered
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "Saw her at the bus stop" and tip.seen_at is None
    assert tip.seen_at_precision == "unknown"


STEPS_BEFORE_CANCEL = {
    "what": [],
    "when": [("text", "a child alone")],
    "when_time": [("text", "a child alone"), ("press", "Earlier today")],
    "where": [("text", "a child alone"), ("press", "Now")],
    "where_pick": [("text", "a child alone"), ("press", "Now"), ("text", "Springfield")],
    "media": [("text", "a child alone"), ("press", "Now"), ("press", "Skip")],
    "contact": [("text", "a child alone"), ("press", "Now"), ("press", "Skip"), ("press", "Skip")],
}


@pytest.mark.parametrize("step", [*STEPS_BEFORE_CANCEL, "confirm"])
async def test_cancel_on_any_step_drops_the_draft(chat, fake, step):
    if step == "confirm":
        await walk_to_summary(chat, fake, CHAT, text="a child alone")
    else:
        await chat.send(fake.command(CHAT, "start"))
        await chat.press(CHAT, "Report a sighting")
        for kind, value in STEPS_BEFORE_CANCEL[step]:
            if kind == "text":
                await chat.send(fake.text_message(CHAT, value))
            else:
                await chat.press(CHAT, value)
    assert await fsm_state(chat, CHAT) == f"Report:{step}"
    await chat.press(CHAT, "Cancel")
    assert "Cancelled. Nothing was sent." in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) is None
    assert await all_tips(chat.sessions) == []
    await chat.send(fake.command(CHAT, "cancel"))
    assert "nothing to cancel" in chat.last_text(CHAT)
    await assert_all_processed(chat)


async def test_cancel_command_works_mid_step_and_old_buttons_do_nothing(chat, fake):
    await chat.send(fake.text_message(CHAT, "a child alone"))
    await chat.send(fake.command(CHAT, "cancel"))
    assert "Cancelled" in chat.last_text(CHAT)
    await chat.press(CHAT, "Now")  # the "when" keyboard from before the cancel
    assert "earlier message" in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) is None
    await assert_all_processed(chat)
