"""/newcase from the explanation to a case reference, in English and Chinese, with back, skip,
cancel, bad input, a double tap on submit and photos that wait in quarantine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core.cases.registry import open_contact
from storage.models import Case, CasePhoto, FsmState
from tests.bot.fixtures import assert_all_processed, count_containing, fsm_state, jpeg, sent_ref

CHAT = 4101


async def _cases(sessions) -> list[Case]:
    async with sessions() as session:
        return list((await session.scalars(select(Case).order_by(Case.id))).all())


async def _photos(sessions) -> list[CasePhoto]:
    async with sessions() as session:
        return list((await session.scalars(select(CasePhoto).order_by(CasePhoto.id))).all())


async def _to_name(chat, fake, chat_id: int = CHAT) -> None:
    await chat.send(fake.command(chat_id, "newcase"))
    await chat.press(chat_id, "A missing child")
    assert "full name" in chat.last_text(chat_id)


async def _to_summary(chat, fake, chat_id: int = CHAT) -> None:
    """A missing child with a name and a contact only: the summary is on screen."""
    await _to_name(chat, fake, chat_id)
    await chat.send(fake.text_message(chat_id, "Li Wei"))
    for _ in ("nicknames", "sex", "born", "marks", "languages"):
        await chat.press(chat_id, "Skip")
    await chat.press(chat_id, "I don't know")
    await chat.press(chat_id, "Skip")  # where
    await chat.press(chat_id, "Skip")  # circumstances
    await chat.press(chat_id, "I don't have one yet")
    await chat.send(fake.text_message(chat_id, "+86 138 0000 0000"))
    await chat.press(chat_id, "No photo")
    assert "Please check the case" in chat.last_text(chat_id)


async def test_whole_case_in_english_is_registered_private_with_photos_in_quarantine(
    chat, fake, services
):
    await chat.send(fake.command(CHAT, "newcase"))
    intro = chat.last_text(CHAT)
    assert "moderator checks the case with the police report" in intro
    assert "never asks for money" in intro
    await chat.press(CHAT, "A missing child")
    await chat.send(fake.text_message(CHAT, "Li Wei"))
    assert "nicknames" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Weiwei"))
    await chat.press(CHAT, "Female")
    await chat.send(fake.text_message(CHAT, "2019-05-04"))
    await chat.send(fake.text_message(CHAT, "Scar on the left knee"))
    await chat.send(fake.text_message(CHAT, "Mandarin; Sichuan dialect"))
    assert "When was the child last seen?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Another day")
    await chat.send(fake.text_message(CHAT, "2025-03-01 14:30"))
    await chat.send(fake.text_message(CHAT, "Xi'an"))
    assert "Place saved: Xi’an, Shaanxi, China." in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Left school at four with a man in a grey van"))
    await chat.send(fake.text_message(CHAT, "PSB-2025-0301"))
    await chat.send(fake.text_message(CHAT, "Mother: +86 138 0000 0000"))
    assert "photos at different ages help" in chat.last_text(CHAT)
    await chat.send(fake.photo_message(CHAT, jpeg(1), caption="age 5"))
    assert "Photo saved (1 of 10)" in chat.last_text(CHAT)
    for seed in (2, 3):  # an album answers once
        await chat.send(fake.photo_message(CHAT, jpeg(seed), media_group_id="album-1"))
    assert count_containing(chat, CHAT, "Photos saved.") == 1
    await chat.press(CHAT, "Done")
    summary = chat.last_text(CHAT)
    assert "Name: Li Wei" in summary and "Born: 2019-05-04" in summary
    assert "Last seen: 2025-03-01 14:30 (Asia/Shanghai)" in summary
    assert "Languages: Mandarin; Sichuan dialect" in summary and "Photos: 3" in summary
    await chat.press(CHAT, "Submit the case")

    done = chat.last_text(CHAT)
    assert "Nothing is public until then" in done
    [case] = await _cases(chat.sessions)
    assert case.ref == sent_ref(done)
    assert (case.status, case.kind, case.channel) == ("submitted", "missing", "telegram")
    assert (case.full_name, case.nicknames, case.sex) == ("Li Wei", "Weiwei", "female")
    assert case.birth_date == date(2019, 5, 4) and case.age_years is None
    assert (case.languages, case.dialect) == ("Mandarin", "Sichuan dialect")
    assert case.marks == "Scar on the left knee" and case.police_ref == "PSB-2025-0301"
    assert case.last_seen_at == datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert case.last_seen_place == "Xi’an, Shaanxi, China"
    assert case.last_seen_lat == pytest.approx(34.26, abs=0.2)
    assert case.circumstances.startswith("Left school at four")
    assert open_contact(case, vault=services.vault) == "Mother: +86 138 0000 0000"
    assert b"138" not in case.contact_ciphertext
    assert case.submitted_by_tipster_id is not None
    # A keyed hash: the chat id cannot be read back from the source key.
    assert case.source_key.startswith("telegram-case:") and str(CHAT) not in case.source_key
    photos = await _photos(chat.sessions)
    assert [p.status for p in photos] == ["quarantined"] * 3
    assert all(p.source_ref.startswith("tg:") and p.case_id == case.id for p in photos)
    assert [p.age_note for p in photos] == ["age 5", "", ""]
    assert [p.age_months for p in photos] == [60, None, None]  # read from the caption
    assert await fsm_state(chat, CHAT) is None
    await assert_all_processed(chat)


async def test_found_person_in_chinese_with_a_pin_a_shared_contact_and_no_police_reference(
    chat, fake, services
):
    def zh(text: str):
        return fake.text_message(CHAT, text, language_code="zh-hans")

    await chat.send(zh("/newcase"))
    assert "绝不会向您要钱" in chat.last_text(CHAT)
    await chat.press(CHAT, "正在寻亲")
    assert "说自己叫什么名字" in chat.last_text(CHAT)
    await chat.send(zh("小明"))
    await chat.press(CHAT, "跳过")  # nicknames
    await chat.press(CHAT, "男")
    await chat.send(zh("6岁"))
    await chat.press(CHAT, "跳过")  # marks
    await chat.send(zh("普通话；河南话"))
    assert "什么时候被找到" in chat.last_text(CHAT)
    await chat.press(CHAT, "就是现在")
    await chat.send(fake.location_message(CHAT, 34.75, 113.62))
    assert "地点已保存：郑州，河南省，中国" in chat.last_text(CHAT)
    await chat.send(zh("在火车站被民警发现，记得家附近有一条河"))
    await chat.press(CHAT, "还没有")
    assert "没有报警回执编号，案件无法公开" in chat.last_text(CHAT)
    await chat.send(fake.contact_message(CHAT, "+8613900000000", "王", last_name="芳"))
    await chat.press(CHAT, "没有照片")
    summary = chat.last_text(CHAT)
    assert "姓名：小明" in summary and "年龄：6" in summary and "最后被看到：刚才" in summary
    await chat.press(CHAT, "提交案件")

    assert "案件已登记" in chat.last_text(CHAT)
    [case] = await _cases(chat.sessions)
    assert case.ref in chat.last_text(CHAT)
    assert (case.kind, case.full_name, case.sex, case.age_years) == ("found", "小明", "male", 6)
    assert (case.languages, case.dialect) == ("普通话", "河南话")
    assert case.police_ref is None and case.last_seen_lat == pytest.approx(34.75)
    assert case.last_seen_at is not None
    assert open_contact(case, vault=services.vault) == "王 芳 +8613900000000"
    assert await _photos(chat.sessions) == []
    await assert_all_processed(chat)


async def test_back_skip_and_cancel_move_between_steps_and_cancel_registers_nothing(chat, fake):
    await _to_name(chat, fake)
    await chat.press(CHAT, "Back")
    assert "Who is this case about?" in chat.last_text(CHAT)
    await chat.press(CHAT, "A missing child")
    await chat.send(fake.text_message(CHAT, "Li Wei"))
    await chat.press(CHAT, "Skip")  # nicknames
    assert chat.last_text(CHAT) == "Sex?"
    await chat.press(CHAT, "Back")
    assert "nicknames" in chat.last_text(CHAT)
    for _ in ("nicknames", "sex", "born", "marks", "languages"):
        await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Earlier today")
    assert "At what time today?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Back")
    assert "When was the child last seen?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Cancel")
    assert chat.last_text(CHAT) == "Cancelled. Nothing was registered."
    assert await fsm_state(chat, CHAT) is None
    await chat.press(CHAT, "Back")  # a button of the cancelled case
    assert "earlier question" in chat.last_text(CHAT)
    await chat.send(fake.command(CHAT, "newcase"))
    await chat.send(fake.command(CHAT, "cancel"))
    assert chat.last_text(CHAT) == "Cancelled. Nothing was registered."
    assert await _cases(chat.sessions) == []
    await assert_all_processed(chat)


async def test_bad_input_gets_a_clear_message_and_the_same_step_again(chat, fake):
    await _to_name(chat, fake)
    await chat.send(fake.sticker_message(CHAT))
    assert chat.last_text(CHAT).startswith("I cannot use that here.")
    assert "full name" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "W" * 201))
    assert "at most 200 characters" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "12345"))
    assert "A name needs letters" in chat.last_text(CHAT)
    await chat.send(fake.photo_message(CHAT, jpeg(1)))
    assert "Photos come later" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Li Wei"))
    await chat.press(CHAT, "Skip")  # nicknames
    await chat.send(fake.text_message(CHAT, "tall"))
    assert "Please use the buttons" in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")  # sex
    answers = {
        "2019-02-30": "That date does not exist",
        f"{datetime.now(UTC).year + 1}-01-01": "That date is in the future",
        "130": "over 120 years old",
        "last spring": "I could not read “last spring”",
    }
    for typed, problem in answers.items():
        await chat.send(fake.text_message(CHAT, typed))
        assert problem in chat.last_text(CHAT)
        assert "Date of birth" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "7"))
    await chat.press(CHAT, "Skip")  # marks
    await chat.press(CHAT, "Skip")  # languages
    await chat.press(CHAT, "Another day")
    await chat.send(fake.text_message(CHAT, f"{datetime.now(UTC).year + 1}-06-01 10:00"))
    assert "has not happened yet" in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) == "NewCase:when_day"
    await assert_all_processed(chat)


async def test_the_same_submit_twice_registers_one_case_with_one_reference(chat, fake):
    await _to_summary(chat, fake)
    await chat.press(CHAT, "Submit the case")
    first = chat.last_text(CHAT)
    await chat.press(CHAT, "Submit the case")  # the summary's button again
    assert chat.last_text(CHAT).startswith(first.split("\n\n")[0])
    [case] = await _cases(chat.sessions)
    assert case.ref == sent_ref(first) and case.police_ref is None
    assert "cannot be made public" in first
    await assert_all_processed(chat)


async def test_newcase_in_the_middle_of_a_report_comes_back_to_the_report(chat, fake):
    await chat.send(fake.text_message(CHAT, "A girl in a red coat"))
    assert "When did you see this?" in chat.last_text(CHAT)
    await _to_name(chat, fake)
    await chat.send(fake.command(CHAT, "cancel"))
    assert "When did you see this?" in chat.last_text(CHAT)
    assert "back to your sighting report" in chat.last_text(CHAT)
    await chat.press(CHAT, "I don't know")
    assert "Where did you see this?" in chat.last_text(CHAT)
    await assert_all_processed(chat)


async def test_an_ambiguous_place_asks_did_you_mean_and_the_time_follows_the_chosen_zone(
    chat, fake
):
    await _to_name(chat, fake)
    await chat.send(fake.text_message(CHAT, "Li Wei"))
    for _ in ("nicknames", "sex", "born", "marks", "languages"):
        await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Another day")
    await chat.send(fake.text_message(CHAT, "1/3/2025 9:00"))
    await chat.send(fake.text_message(CHAT, "Springfield"))
    assert chat.last_text(CHAT) == "Did you mean…?"
    await chat.press(CHAT, "None of these")
    assert "type the place again" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Springfield"))
    await chat.press(CHAT, "Springfield, Illinois")
    assert "What happened?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")  # circumstances
    await chat.press(CHAT, "I don't have one yet")
    await chat.send(fake.text_message(CHAT, "dad@example.com"))
    await chat.press(CHAT, "No photo")
    assert "Last seen: 2025-03-01 09:00 (America/Chicago)" in chat.last_text(CHAT)
    await chat.press(CHAT, "Submit the case")
    [case] = await _cases(chat.sessions)
    assert case.last_seen_place == "Springfield, Illinois, United States"
    assert case.last_seen_at == datetime(2025, 3, 1, 15, 0, tzinfo=UTC)  # Chicago, UTC-6
    await assert_all_processed(chat)


async def test_a_typed_contact_is_sealed_in_the_conversation_state_as_soon_as_it_is_given(
    chat, fake, services
):
    await _to_summary(chat, fake)
    assert "Your private contact: •••00" in chat.last_text(CHAT)
    async with chat.sessions() as session:
        [data] = (await session.scalars(select(FsmState.data))).all()
    stored = json.dumps(data)
    assert "138" not in stored and "0000" not in stored
    assert data["newcase"]["contact"].startswith("vault:")

    await chat.press(CHAT, "Submit the case")
    [case] = await _cases(chat.sessions)
    assert open_contact(case, vault=services.vault) == "+86 138 0000 0000"


async def test_a_case_sent_during_a_report_still_answers_a_second_tap_after_the_report_resumes(
    chat, fake
):
    await chat.send(fake.text_message(CHAT, "A girl in a red coat"))
    await _to_summary(chat, fake)
    await chat.press(CHAT, "Submit the case")
    [done] = [m["text"] for m in chat.messages(CHAT) if "Nothing is public" in m.get("text", "")]
    assert "When did you see this?" in chat.last_text(CHAT)  # the report is back
    # The report and the case keep their state apart: the case's reference is still known.
    await chat.press(CHAT, "Submit the case")
    assert sent_ref(chat.last_text(CHAT)) == sent_ref(done)
    assert len(await _cases(chat.sessions)) == 1
    await chat.press(CHAT, "I don't know")
    assert "Where did you see this?" in chat.last_text(CHAT)
    await assert_all_processed(chat)
