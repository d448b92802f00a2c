"""/status, /add, /language, answers to moderators, shared contacts and odd input."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import Tip, TipPhoto, TipsterIdentity
from tests.bot.fixtures import (
    all_photos,
    all_tips,
    assert_all_processed,
    fsm_state,
    jpeg,
    sent_ref,
    tipsters,
    walk_to_summary,
)

CHAT = 3501
STRANGER = 3599


async def _sent_tip(chat, fake, text: str = "Girl with a white dog") -> str:
    await walk_to_summary(chat, fake, CHAT, text=text)
    await chat.press(CHAT, "Send report")
    return sent_ref(chat.last_text(CHAT))


async def test_status_shows_ones_own_tip_and_tells_a_stranger_nothing(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.command(CHAT, "status", ref.lower().replace("-", "")))
    assert f"{ref}: received (sent " in chat.last_text(CHAT)
    await chat.send(fake.command(STRANGER, "status", ref))
    refused = chat.last_text(STRANGER)
    assert refused == "No tip of yours has this reference."
    await chat.send(fake.command(STRANGER, "status", "ZZZZ-ZZZZ"))
    assert chat.last_text(STRANGER) == refused  # same words whether or not the ref exists
    assert ref not in "".join(str(m) for m in chat.messages(STRANGER))
    await assert_all_processed(chat)


async def test_status_without_a_ref_lists_ones_recent_tips(chat, fake):
    await chat.send(fake.command(CHAT, "status"))
    assert chat.last_text(CHAT) == "You have not sent any tips yet."
    first = await _sent_tip(chat, fake, "first")
    second = await _sent_tip(chat, fake, "second")
    await chat.send(fake.command(CHAT, "status"))
    listing = chat.last_text(CHAT)
    assert listing.startswith("Your recent tips:") and first in listing and second in listing
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Check a tip")
    assert chat.last_text(CHAT) == listing


async def test_add_puts_text_places_and_photos_on_ones_own_tip(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.command(CHAT, "add", ref))
    assert f"add to {ref}" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "She was wearing a yellow hat"))
    assert f"Added to {ref}" in chat.last_text(CHAT)
    await chat.send(fake.location_message(CHAT, 34.2583, 108.9286))
    await chat.send(fake.photo_message(CHAT, jpeg(3)))
    await chat.press(CHAT, "Done")
    assert f"added to {ref} is saved" in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) is None
    [tip] = await all_tips(chat.sessions)
    additions = tip.details["additions"]
    assert additions[0]["text"] == "She was wearing a yellow hat"
    assert additions[1]["place"]["lat"] == 34.2583
    assert tip.lat == 34.2583  # the tip had no place, so the added one becomes its place
    [photo] = await all_photos(chat.sessions)
    assert photo.tip_id == tip.id and photo.kind == "photo"
    await assert_all_processed(chat)


async def test_add_to_someone_elses_tip_is_refused(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.command(STRANGER, "add", ref))
    assert chat.last_text(STRANGER) == "No tip of yours has this reference."
    await chat.send(fake.text_message(STRANGER, "trying to add"))
    [tip] = await all_tips(chat.sessions)
    assert "additions" not in tip.details
    await chat.send(fake.command(CHAT, "add"))
    assert "/add followed by the reference" in chat.last_text(CHAT)


async def test_add_in_the_middle_of_a_report_comes_back_to_it(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.text_message(CHAT, "A new sighting"))
    assert await fsm_state(chat, CHAT) == "Report:when"
    await chat.send(fake.command(CHAT, "add", ref))
    await chat.send(fake.text_message(CHAT, "extra for the old one"))
    await chat.press(CHAT, "Done")
    assert "When did you see this?" in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) == "Report:when"


async def test_language_switches_to_chinese_and_back(chat, fake):
    await chat.send(fake.command(CHAT, "language"))
    assert [label for label, _ in chat.buttons(CHAT)] == ["English", "简体中文"]
    await chat.press(CHAT, "简体中文")
    assert chat.last_text(CHAT) == "好的，之后我会用简体中文回复您。"
    [tipster] = await tipsters(chat.sessions)
    assert tipster.language == "zh-Hans"
    await chat.send(fake.command(CHAT, "start"))  # the client still says "en"
    assert "走失" in chat.last_text(CHAT)
    await chat.send(fake.command(CHAT, "language"))
    await chat.press(CHAT, "English")
    assert "English" in chat.last_text(CHAT)
    [tipster] = await tipsters(chat.sessions)
    assert tipster.language == "en"


async def _press_answer(chat, fake, chat_id: int, ref: str) -> None:
    # The moderation side will send a question with this button; any message of the chat will do.
    message_id = chat.messages(chat_id)[-1].get("message_id") or 1
    await chat.send(fake.callback_query(chat_id, message_id, f"ans:{ref}"))


async def test_an_answer_to_a_moderator_lands_on_the_tip(chat, fake):
    ref = await _sent_tip(chat, fake)
    await _press_answer(chat, fake, CHAT, ref)
    assert f"question about your tip {ref}" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Yes, the man had a beard"))
    assert f"answer was added to {ref}" in chat.last_text(CHAT)
    [tip] = await all_tips(chat.sessions)
    [answer] = tip.details["answers"]
    assert answer["text"] == "Yes, the man had a beard" and answer["at"]
    assert await fsm_state(chat, CHAT) is None
    await assert_all_processed(chat)


async def test_a_stranger_cannot_answer_on_someone_elses_tip(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.command(STRANGER, "start"))
    await _press_answer(chat, fake, STRANGER, ref)
    assert chat.last_text(STRANGER) == "No tip of yours has this reference."
    await chat.send(fake.text_message(STRANGER, "sneaky answer"))
    [tip] = await all_tips(chat.sessions)
    assert "answers" not in tip.details


async def test_a_shared_contact_goes_only_to_the_vault(chat, fake, services):
    phone = "+8613800138000"
    await chat.send(fake.text_message(CHAT, "Boy near the station"))
    await chat.send(fake.contact_message(CHAT, phone, "Li"))
    assert "kept private in our sealed records" in chat.last_text(CHAT)
    await chat.press(CHAT, "I don't know")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    assert phone not in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "Boy near the station"
    async with chat.sessions() as session:
        tip_rows = (await session.execute(select(Tip.__table__))).all()
        photo_rows = (await session.execute(select(TipPhoto.__table__))).all()
        [vault_row] = (await session.scalars(select(TipsterIdentity))).all()
    digits = phone.lstrip("+")
    dumped = json.dumps([list(r) for r in [*tip_rows, *photo_rows]], default=str)
    assert digits not in dumped
    assert digits.encode() not in vault_row.ciphertext
    assert services.vault.open(vault_row.ciphertext)["phone"] == phone
    await assert_all_processed(chat)


async def test_stickers_unknown_commands_help_and_about_are_answered(chat, fake):
    await chat.send(fake.sticker_message(CHAT))
    assert chat.last_text(CHAT).startswith("I can't use this")
    await chat.send(fake.command(CHAT, "frobnicate"))
    assert "What I understand" in chat.last_text(CHAT)
    await chat.send(fake.command(CHAT, "help"))
    assert "/status REF" in chat.last_text(CHAT)
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "About & privacy")
    assert "pseudonym" in chat.last_text(CHAT)
    assert await all_tips(chat.sessions) == []
    await assert_all_processed(chat)


async def test_groups_get_nothing_even_mid_conversation_input(chat, fake):
    group = -1000000000777
    fake.register_chat(group, type="supergroup", title="Neighbourhood")
    await chat.send(fake.text_message(group, "I saw her!"))
    await chat.send(fake.photo_message(group, jpeg(1)))
    await chat.send(fake.sticker_message(group))
    assert chat.messages(group) == []
    assert await all_tips(chat.sessions) == []


async def test_cancel_during_add_stops_adding_and_keeps_the_report(chat, fake):
    ref = await _sent_tip(chat, fake)
    await chat.send(fake.text_message(CHAT, "thanks!"))
    reply_after_thanks = chat.last_text(CHAT)
    assert f"send /add {ref}" in reply_after_thanks
    await chat.send(fake.command(CHAT, "add", ref))
    await chat.send(fake.command(CHAT, "cancel"))
    reply = chat.last_text(CHAT)
    assert f"Nothing more will be added to {ref}" in reply and "When did you see this?" in reply
    assert await fsm_state(chat, CHAT) == "Report:when"
    await chat.send(fake.command(CHAT, "cancel"))
    assert "Cancelled. Nothing was sent." in chat.last_text(CHAT)
    assert len(await all_tips(chat.sessions)) == 1
