"""Where: typed names with "Did you mean…?", Chinese names, pins, venues, live locations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.bot.fixtures import all_tips, assert_all_processed, fsm_state

CHAT = 3101


async def _to_where(chat, fake) -> None:
    await chat.send(fake.text_message(CHAT, "Boy in a yellow raincoat"))
    await chat.press(CHAT, "Another day")
    await chat.send(fake.text_message(CHAT, "1/3/2025 9:00"))
    assert "Where did you see this?" in chat.last_text(CHAT)


async def _finish(chat) -> None:
    await chat.press(CHAT, "Skip")  # media
    await chat.press(CHAT, "No, keep")
    await chat.press(CHAT, "Send report")


async def test_an_ambiguous_name_asks_did_you_mean_and_none_of_these_retypes(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.text_message(CHAT, "Springfield"))
    assert chat.last_text(CHAT) == "Did you mean…?"
    labels = [label for label, _ in chat.buttons(CHAT)]
    assert "Springfield, Illinois, United States" in labels
    assert "Springfield, Missouri, United States" in labels
    assert all(len(data.encode()) <= 64 for _, data in chat.buttons(CHAT))
    await chat.press(CHAT, "None of these")
    assert "type the place again" in chat.last_text(CHAT)
    await chat.send(fake.text_message(CHAT, "Springfield, MA"))
    assert "Place saved: Springfield, Massachusetts, United States." in chat.last_text(CHAT)
    await _finish(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.place_text == "Springfield, Massachusetts, United States"
    # 09:00 in Massachusetts (EST, UTC-5) on 1 March 2025.
    assert tip.seen_at == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    assert tip.details["place"]["timezone"] == "America/New_York"
    await assert_all_processed(chat)


async def test_picking_a_namesake_stores_that_one(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.text_message(CHAT, "Springfield"))
    await chat.press(CHAT, "Springfield, Illinois")
    assert "photos or videos" in chat.last_text(CHAT)
    await _finish(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.place_text == "Springfield, Illinois, United States"
    assert tip.lat == pytest.approx(39.8, abs=0.1) and tip.location_precision_m == 10_000
    assert tip.seen_at == datetime(2025, 3, 1, 15, 0, tzinfo=UTC)  # Chicago, UTC-6


async def test_a_chinese_place_name_resolves_offline(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.text_message(CHAT, "西安"))
    assert "Xi’an, Shaanxi, China" in chat.last_text(CHAT)
    await _finish(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.place_text == "Xi’an, Shaanxi, China"
    assert tip.details["place"]["text"] == "西安"
    assert tip.seen_at == datetime(2025, 3, 1, 1, 0, tzinfo=UTC)


async def test_an_unknown_place_can_be_kept_as_typed_with_the_time_read_as_utc(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.text_message(CHAT, "behind the old mill"))
    assert "could not find “behind the old mill”" in chat.last_text(CHAT)
    await chat.press(CHAT, "Keep")
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    assert "09:00 UTC (I do not know the time zone" in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.place_text == "behind the old mill" and tip.lat is None
    assert tip.seen_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


async def test_a_location_pin_keeps_the_exact_point(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.location_message(CHAT, 34.2583, 108.9286, horizontal_accuracy=15))
    assert "Place saved: Xi’an, Shaanxi, China." in chat.last_text(CHAT)
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    assert "exact point shared, near Xi’an" in chat.last_text(CHAT)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert (tip.lat, tip.lon) == (34.2583, 108.9286)
    assert tip.location_source == "pin" and tip.location_precision_m == 15
    assert tip.place_text == "Xi’an, Shaanxi, China"
    assert tip.seen_at == datetime(2025, 3, 1, 1, 0, tzinfo=UTC)


async def test_a_venue_keeps_its_name_and_address(chat, fake):
    await _to_where(chat, fake)
    await chat.send(fake.venue_message(CHAT, 40.758, -73.9855, "Times Square", "Manhattan, NY"))
    assert "Place saved" in chat.last_text(CHAT)
    await _finish(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.location_source == "venue" and (tip.lat, tip.lon) == (40.758, -73.9855)
    assert tip.details["place"]["text"] == "Times Square, Manhattan, NY"
    assert tip.seen_at == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)  # New York, UTC-5


async def test_a_live_location_is_taken_and_its_updates_are_not_answered(chat, fake):
    await _to_where(chat, fake)
    update = fake.location_message(CHAT, 51.5, -0.12, live_period=900)
    await chat.send(update)
    before = len(chat.messages(CHAT))
    message_id = update["message"]["message_id"]
    moved = {**update["message"], "location": {"latitude": 51.51, "longitude": -0.13}}
    moved["edit_date"] = moved["date"] + 5
    await chat.send({"update_id": update["update_id"] + 1000, "edited_message": moved})
    assert len(chat.messages(CHAT)) == before
    await _finish(chat)
    [tip] = await all_tips(chat.sessions)
    assert tip.location_source == "live" and tip.lat == 51.5
    assert message_id > 0
    await assert_all_processed(chat)


async def test_a_location_while_answering_what_is_kept_and_where_is_not_asked(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    await chat.send(fake.location_message(CHAT, 34.2583, 108.9286))
    reply = chat.last_text(CHAT)
    assert "Place saved: Xi’an" in reply and "What did you see?" in reply
    assert await fsm_state(chat, CHAT) == "Report:what"
    await chat.send(fake.text_message(CHAT, "She was crying near the gate"))
    await chat.press(CHAT, "Now")
    assert "photos or videos" in chat.last_text(CHAT)  # where was answered already
    await chat.press(CHAT, "Skip")
    await chat.press(CHAT, "No, keep")
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)
    assert tip.text == "She was crying near the gate" and tip.lat == 34.2583
