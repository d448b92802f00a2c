"""/newcase and /alerts on WhatsApp: the same flows as on Telegram, through the chat router."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.cases.registry import open_contact
from core.i18n import Texts
from storage.models import Case, CasePhoto, Subscription
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import Send
from tests.keys import TEST_VAULT
from tests.whatsapp.chats import Line, jpeg, whatsapp_line
from tests.whatsapp.chats import line as read_line

EN = Texts("en", "chat")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


async def _all(sessions, model) -> list:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


async def _whole_case(line: Line, media_id: str) -> Send:
    """/newcase from its first question to Submit, with one photo; the answer to Submit."""
    (kind,) = await line.sends(*wa.text("/newcase"))
    assert "moderator checks the case with the police report" in read_line(kind)
    await line.taps(kind, "A missing child")
    sex = await line.types("Li Wei", "Weiwei")
    await line.taps(sex, "Female")
    when = await line.types("2019-05-04", "Scar on the left knee", "Mandarin; Sichuan dialect")
    assert "When was the child last seen?" in read_line(when)
    await line.taps(when, "Another day")
    where = await line.types("2025-03-01 14:30", "Xi'an")
    assert "Place saved: Xi’an, Shaanxi, China." in read_line(where)
    photos = await line.types(
        "Left school at four with a man in a grey van", "PSB-2025-0301", "Mother: +86 138 0000"
    )
    assert "photos at different ages help" in read_line(photos)
    (saved,) = await line.sends(*wa.image(media_id, "age 5"))
    assert "Photo saved (1 of 10)" in read_line(saved)
    (summary,) = await line.taps(saved, "Done")
    assert "Name: Li Wei" in read_line(summary) and "Photos: 1" in read_line(summary)
    (done,) = await line.taps(summary, "Submit the case")
    return done


async def test_a_whole_case_is_registered_private_with_its_photo(line, sessions):
    done = await _whole_case(line, line.world.fake.add_media(jpeg(3)))
    assert "Nothing is public until then" in read_line(done)
    (case,) = await _all(sessions, Case)
    assert (case.status, case.channel, case.full_name) == ("submitted", "whatsapp", "Li Wei")
    assert case.source_key.startswith("whatsapp-case:") and line.phone not in case.source_key
    assert open_contact(case, vault=TEST_VAULT) == "Mother: +86 138 0000"
    (photo,) = await _all(sessions, CasePhoto)
    assert photo.source_ref.startswith("whatsapp:") and photo.age_note == "age 5"
    assert await line.case_photos.run_once() == 1
    (photo,) = await _all(sessions, CasePhoto)
    assert photo.status == "ready" and photo.display_sha256


async def test_a_case_photo_meta_no_longer_has_is_explained_on_whatsapp(line, sessions):
    media_id = line.world.fake.add_media(jpeg(3))
    await _whole_case(line, media_id)
    line.world.fake.expire_media(media_id)
    assert await line.case_photos.run_once() == 1
    (refused,) = await line.settle()
    (case,) = await _all(sessions, Case)
    reason = EN("photo.refused.gone")
    assert read_line(refused) == EN("case.photo_refused", ref=case.ref, reason=reason)


async def test_newcase_in_the_middle_of_a_report_comes_back_to_the_report(line):
    await line.types("a boy by the river")
    await line.sends(*wa.text("/newcase"))
    cancelled, back = await line.sends(*wa.text("/cancel"))
    assert read_line(cancelled) == EN("newcase.cancelled")
    assert EN("report.ask_when") in read_line(back)


async def test_signing_up_for_alerts_with_a_typed_city_and_radius(line, sessions):
    await line.sends(*wa.text("/alerts"))
    (pick,) = await line.sends(*wa.text("Springfield"))
    assert "did you mean" in read_line(pick).lower()
    await line.taps(pick, "Springfield, Illinois")
    (language,) = await line.sends(*wa.text("40 km"))
    (quiet,) = await line.taps(language, "English")
    (confirm,) = await line.taps(quiet, "No quiet hours")
    assert "Quiet hours: none" in read_line(confirm)
    await line.taps(confirm, "Start alerts")
    (sub,) = await _all(sessions, Subscription)
    assert sub.radius_km == 40 and sub.place_text.startswith("Springfield, Illinois")
