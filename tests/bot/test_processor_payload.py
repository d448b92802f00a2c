"""What the processor validates of a stored update."""

from __future__ import annotations

import copy

from bot.processor import without_echoed_keyboard

KEYBOARD = {"inline_keyboard": [[{"text": "Now", "callback_data": "when:now"}]]}


def _press(message: dict) -> dict:  # type: ignore[type-arg]
    return {"update_id": 7, "callback_query": {"id": "q1", "data": "when:now", "message": message}}


def test_the_keyboard_echoed_in_a_press_is_dropped_and_the_stored_update_kept():
    update = _press({"message_id": 3, "text": "When?", "reply_markup": KEYBOARD})
    stored = copy.deepcopy(update)
    stripped = without_echoed_keyboard(update)
    assert "reply_markup" not in stripped["callback_query"]["message"]
    assert stripped["callback_query"]["message"] == {"message_id": 3, "text": "When?"}
    assert stripped["callback_query"]["data"] == "when:now"
    assert update == stored  # the payload as it came is untouched


def test_updates_without_an_echoed_keyboard_pass_as_they_are():
    message = {"update_id": 8, "message": {"text": "hi", "reply_markup": KEYBOARD}}
    inaccessible = _press({"message_id": 3, "date": 0})
    assert without_echoed_keyboard(message) is message
    assert without_echoed_keyboard(inaccessible) is inaccessible
    assert without_echoed_keyboard({"update_id": 9, "callback_query": None}) == {
        "update_id": 9,
        "callback_query": None,
    }
