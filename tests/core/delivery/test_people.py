"""One notice, a payload per channel (core/delivery/people.py): Telegram's as before, WhatsApp's
free-form message with its template, the same button data on both, nothing for a channel
Tipline does not send on. Pure logic, no database."""

from __future__ import annotations

from datetime import UTC, datetime

from core.delivery.outbox import telegram_photo, telegram_text
from core.delivery.people import Notice, Template, outbox_parts, telegram_parts, whatsapp_parts
from core.whatsapp.payloads import FAMILY_LEAD, TIPSTER_NOTICE
from moderation.forwarding.family_leads import family_lead_notice
from storage.models import Case, Forward, Tip

PHOTO = "ab" * 32
ROWS = [[("Yes", "tip:9:yes")], [("No", "tip:9:no"), ("Not sure", "tip:9:unsure")]]


def _lead(photo: str | None = None) -> Notice:
    forward = Forward(id=41, summary="Seen near the\nstation", coarse_place="Xi'an")
    forward.include_photo_sha = photo
    tip = Tip(seen_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC), details={})
    case = Case(full_name="Li Na", ref="K7Q2")
    return family_lead_notice(forward=forward, tip=tip, case=case, language="en")


def test_telegram_payloads_are_the_ones_telegram_always_got():
    notice = Notice("Thank you", "en", buttons=ROWS, protect=True)
    assert telegram_parts(notice) == [("", telegram_text("Thank you", buttons=ROWS, protect=True))]
    with_photo = Notice("Seen here", "en", photo=PHOTO)
    assert telegram_parts(with_photo) == [("", telegram_photo(PHOTO, "Seen here"))]


def test_a_family_lead_says_the_same_on_whatsapp_as_on_telegram_with_the_same_button_data():
    notice = _lead()
    ((_, telegram),) = telegram_parts(notice)
    ((_, whatsapp),) = whatsapp_parts(notice)
    free = whatsapp["free"]
    assert free["type"] == "list" and free["text"] == telegram["text"]
    telegram_data = [data for row in telegram["buttons"] for _, data in row]
    assert [reply_id for reply_id, _ in free["choices"]] == telegram_data
    assert telegram_data == ["fam:41:mine", "fam:41:not_mine", "fam:41:unsure", "fam:41:scam"]
    assert all(len(data.encode()) <= 64 for data in telegram_data)
    assert whatsapp["template"] == {
        "name": FAMILY_LEAD,
        "language": "en",
        "parameters": ["K7Q2", "Seen near the station"],
    }


def test_a_photo_goes_ahead_of_a_list_which_cannot_carry_one():
    parts = whatsapp_parts(_lead(PHOTO))
    assert [suffix for suffix, _ in parts] == [":photo", ""]
    (_, photo), (_, lead) = parts
    image = {"type": "image", "display_sha256": PHOTO, "caption": ""}
    assert photo == {"free": image, "template": None}
    assert lead["free"]["type"] == "list" and lead["template"]["name"] == FAMILY_LEAD
    keys = [key for key, _ in outbox_parts("whatsapp", _lead(PHOTO), key="forward:41:family:3")]
    assert keys == ["forward:41:family:3:photo", "forward:41:family:3"]


def test_up_to_three_buttons_are_reply_buttons_under_the_photo():
    notice = Notice("Seen here", "zh-Hans", buttons=ROWS, photo=PHOTO)
    ((_, payload),) = whatsapp_parts(notice)
    free = payload["free"]
    assert (free["type"], free["display_sha256"]) == ("buttons", PHOTO)
    ids = [reply_id for reply_id, _ in free["choices"]]
    assert ids == ["tip:9:yes", "tip:9:no", "tip:9:unsure"]
    assert payload["template"] is None


def test_template_parameters_are_one_line_and_never_empty():
    template = Template.of(TIPSTER_NOTICE, "Tip K7:\n\nthank   you")
    assert template.parameters == ("Tip K7: thank you",)
    assert Template.of(FAMILY_LEAD, "K7", " \n").parameters == ("K7", "-")
    notice = Notice("Tip K7:\nthank you", "zh-Hans", template=template)
    ((_, payload),) = whatsapp_parts(notice)
    assert payload == {
        "free": {"type": "text", "text": "Tip K7:\nthank you"},
        "template": {
            "name": TIPSTER_NOTICE,
            "language": "zh_CN",
            "parameters": ["Tip K7: thank you"],
        },
    }


def test_a_channel_tipline_does_not_send_on_gets_nothing_queued():
    assert outbox_parts("fax", Notice("Thank you", "en"), key="k") == []
