"""How the engine's buttons look on WhatsApp: reply buttons, a list, several lists."""

from __future__ import annotations

from core.i18n import Texts
from core.whatsapp.payloads import graph_body, location_request
from handlers.engine.channel import button, keyboard
from handlers.whatsapp.channel import render
from handlers.whatsapp.inputs import read

EN = Texts("en")


def _keys(count: int, label: str = "Pick {i}"):
    return keyboard(*([button(label.format(i=i), "p", "case", str(i))] for i in range(count)))


def test_up_to_three_short_choices_are_reply_buttons():
    (part,) = render("When?", _keys(3), EN)
    assert part["type"] == "buttons"
    assert [c[0] for c in part["choices"]] == ["p:case:0", "p:case:1", "p:case:2"]


def test_a_long_label_makes_a_list_that_shows_the_whole_label():
    (part,) = render("Contact?", _keys(2, "No, keep me anonymous (default) {i}"), EN)
    row = graph_body("1", part)["interactive"]["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) == 24 and row["description"] == "No, keep me anonymous (default) 0"


def test_more_than_ten_choices_go_in_several_lists_every_one_a_tap_away():
    first, second = render("Which case?", _keys(13), EN)
    assert (first["text"], len(first["choices"])) == ("Which case?", 10)
    assert (second["text"], len(second["choices"])) == (EN("chat.more_choices"), 3)
    assert second["choices"][-1][0] == "p:case:12"


def test_a_text_too_long_for_reply_buttons_goes_first_on_its_own():
    text, buttons = render("x" * 2000, _keys(2), EN)
    assert (text["type"], len(text["text"])) == ("text", 2000)
    assert (buttons["type"], buttons["text"]) == ("buttons", EN("chat.choose_below"))


def test_a_location_request_is_whatsapps_send_location_message():
    body = graph_body("447700900123", location_request("Where?"))["interactive"]
    assert body == {
        "type": "location_request_message",
        "body": {"text": "Where?"},
        "action": {"name": "send_location"},
    }


def test_a_pin_with_a_name_is_a_venue_and_a_picture_file_an_attachment():
    place = read("location", {"location": {"latitude": 1.5, "longitude": 2, "name": "Gate 3"}})
    assert (place.point.source, place.point.text, place.point.lon) == ("venue", "Gate 3", 2.0)
    doc = {"document": {"id": "77", "mime_type": "image/png", "filename": "a.png"}}
    media = read("document", doc)
    assert (media.attachment.kind, media.attachment.source_ref) == ("document", "whatsapp:77")
    pdf = {"document": {"id": "78", "mime_type": "application/pdf"}}
    assert read("document", pdf).key == "chat.unsupported"
