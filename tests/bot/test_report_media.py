"""Photos, albums, videos as files, voice notes, and files the bot cannot take."""

from __future__ import annotations

from tests.bot.fixtures import (
    all_photos,
    all_tips,
    assert_all_processed,
    count_containing,
    fsm_state,
    jpeg,
    photos_of,
)

CHAT = 3201
MB = 1024 * 1024


async def _to_media(chat, fake) -> None:
    await chat.send(fake.text_message(CHAT, "Two children with a woman in a grey car"))
    await chat.press(CHAT, "Now")
    await chat.press(CHAT, "Skip")  # where
    assert "photos or videos" in chat.last_text(CHAT)


async def _send(chat) -> None:
    await chat.press(CHAT, "No, keep")
    await chat.press(CHAT, "Send report")


async def test_an_album_of_three_is_one_tip_with_three_files_and_one_reply(chat, fake):
    await _to_media(chat, fake)
    before = len(chat.messages(CHAT))
    for seed in range(3):
        await chat.send(fake.photo_message(CHAT, jpeg(seed), media_group_id="album-1"))
    assert len(chat.messages(CHAT)) == before + 1
    assert "Album received" in chat.last_text(CHAT)
    await chat.press(CHAT, "Done")
    await chat.press(CHAT, "No, keep")
    assert "Photos and videos: 3" in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    photos = await photos_of(chat.sessions, tip.id)
    assert len(photos) == 3 and {p.kind for p in photos} == {"photo"}
    assert len({p.source_ref for p in photos}) == 3
    await assert_all_processed(chat)


async def test_an_eleventh_file_is_refused_with_the_limit(chat, fake):
    await _to_media(chat, fake)
    for seed in range(10):
        await chat.send(fake.photo_message(CHAT, jpeg(seed)))
    assert "10 of 10 files so far" in chat.last_text(CHAT)
    await chat.send(fake.photo_message(CHAT, jpeg(11)))
    assert "up to 10 photos or videos. This one was not added." in chat.last_text(CHAT)
    await chat.press(CHAT, "Done")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    assert len(await photos_of(chat.sessions, tip.id)) == 10


async def test_a_file_over_20_mb_is_refused_and_not_added(chat, fake):
    await _to_media(chat, fake)
    big = fake.document_message(
        CHAT, b"\x00" * 64, file_name="clip.mp4", mime_type="video/mp4", file_size=25 * MB
    )
    await chat.send(big)
    assert "larger than 20 MB" in chat.last_text(CHAT)
    await chat.send(
        fake.document_message(CHAT, jpeg(2), file_name="IMG_0001.jpg", mime_type="image/jpeg")
    )
    await chat.press(CHAT, "Done")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    [photo] = await photos_of(chat.sessions, tip.id)
    assert photo.kind == "document" and photo.mime_type == "image/jpeg"
    await assert_all_processed(chat)


async def test_a_pdf_or_a_sticker_is_not_used_and_says_what_is(chat, fake):
    await _to_media(chat, fake)
    await chat.send(fake.document_message(CHAT))
    assert "I can't use this" in chat.last_text(CHAT)
    await chat.send(fake.sticker_message(CHAT))
    assert "I can't use this. Please send text, a photo" in chat.last_text(CHAT)
    assert await fsm_state(chat, CHAT) == "Report:media"
    await chat.press(CHAT, "Skip")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    assert await photos_of(chat.sessions, tip.id) == []


async def test_a_photo_with_no_conversation_starts_a_report(chat, fake):
    await chat.send(fake.photo_message(CHAT, jpeg(5), caption="Is this her? Seen at the market"))
    reply = chat.last_text(CHAT)
    assert "Saved (1 so far)." in reply and "When did you see this?" in reply
    await chat.press(CHAT, "Now")
    await chat.send(fake.text_message(CHAT, "Xi'an"))
    assert "1 of 10 files so far" in chat.last_text(CHAT)
    await chat.press(CHAT, "Done")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "Is this her? Seen at the market"
    assert len(await photos_of(chat.sessions, tip.id)) == 1


async def test_a_voice_note_is_the_description_and_text_on_the_photo_step_is_added(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    await chat.send(fake.voice_message(CHAT))
    assert "When did you see this?" in chat.last_text(CHAT)
    await chat.press(CHAT, "Now")
    await chat.press(CHAT, "Skip")
    await chat.send(fake.text_message(CHAT, "She had a pink backpack"))
    reply = chat.last_text(CHAT)
    assert "Added to your description." in reply and "photos or videos" in reply
    await chat.press(CHAT, "Done")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "She had a pink backpack"
    [voice] = await all_photos(chat.sessions)
    assert voice.kind == "voice" and voice.mime_type == "audio/ogg"


async def test_text_at_telegrams_limit_is_taken_and_cut_to_4000(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    await chat.send(fake.text_message(CHAT, "x" * 4096))
    assert "limit of 4000 characters" in chat.last_text(CHAT)
    await chat.press(CHAT, "Now")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    summary = chat.last_text(CHAT)
    assert len(summary) < 4096 and "x" * 1500 + "…" in summary
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "x" * 4000
    await assert_all_processed(chat)


async def test_an_edit_during_a_draft_changes_nothing_and_says_so(chat, fake):
    update = fake.text_message(CHAT, "Girl in a blue dress")
    await chat.send(update)
    await chat.send(fake.edited_message(CHAT, update["message"]["message_id"], "Girl in RED"))
    assert "edited a message" in chat.last_text(CHAT)
    assert count_containing(chat, CHAT, "edited a message") == 1
    await chat.press(CHAT, "Now")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "Skip")
    await _send(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "Girl in a blue dress"
