"""/alerts and /newcase on SMS, whole walks through the chat router: a volunteer signs up by
text and answers an area alert with a number; a family registers a missing child by text.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.cases.registry import open_contact
from core.i18n import Texts
from core.sms.render import MAX_SEGMENTS
from core.sms.segments import size
from storage.models import Case, StaffUser, Subscription
from tests.keys import TEST_VAULT
from tests.sms.chats import Line, sms_line
from tests.staff_cases import staff_case
from tests.web import dashboard_world, front_door

EN = Texts("en", "sms")


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with sms_line(engine, sessions, tmp_path) as line:
        yield line


@pytest.fixture
async def senior(engine, sessions, tmp_path) -> StaffUser:
    """A senior moderator, through the front door."""
    context = dashboard_world.build_context(engine, sessions, tmp_path / "dashboard")
    async for client in dashboard_world.client_for(context):
        admin = await front_door.first_admin(client, sessions)
        signed = await front_door.invited(
            client, sessions, admin, email="senior@example.org", role="senior_moderator"
        )
    return signed.user


async def _all(sessions, model) -> list:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


async def _sign_up(line: Line) -> None:
    """/alerts by text: a typed city, a radius, English, no quiet hours, start."""
    (where,) = await line.texts("/alerts")
    assert "Type your city" in where
    (radius,) = await line.texts("Xi'an")
    assert "Area: Xi'an, Shaanxi, China." in radius
    (language,) = await line.texts("40 km")
    (quiet,) = await line.picks(language, "English")
    (confirm,) = await line.picks(quiet, "No quiet hours")
    assert "Radius: 40 km" in confirm
    (started,) = await line.picks(confirm, "Start alerts")
    assert "You will get alerts" in started


async def test_a_volunteer_signed_up_by_sms_reports_on_an_alert_with_its_number(
    line, sessions, senior
):
    await _sign_up(line)
    (sub,) = await _all(sessions, Subscription)
    assert sub.radius_km == 40
    case = await staff_case(sessions, senior, status="active")
    (alert,) = await line.settle()  # the relay sent it on SMS
    assert "Li Na" in alert and size(alert).segments <= MAX_SEGMENTS
    (report,) = await line.picks(alert, "I saw this child - report")  # GSM-7 dash
    assert EN("report.ask_what").split(".")[0] in report and case.ref in report


async def _whole_case(line: Line) -> str:
    """/newcase by text from its first question to Submit, the place typed, no photo; the
    answer to Submit."""
    (kind,) = await line.texts("/newcase")
    assert "police report" in kind and "never asks for money" in kind
    await line.picks(kind, "A missing child")
    await line.texts("Li Wei")
    (sex,) = await line.texts("Weiwei")
    await line.picks(sex, "Female")
    for answer in ("2019-05-04", "Scar on the left knee"):
        await line.texts(answer)
    (when,) = await line.texts("Mandarin; Sichuan dialect")
    await line.picks(when, "Another day")
    (where,) = await line.texts("2025-03-01 14:30")
    assert where.startswith(EN("newcase.ask_where"))
    (happened,) = await line.texts("Xi'an")
    assert "Place saved: Xi'an, Shaanxi, China." in happened
    for answer in ("Left school at four with a man in a grey van", "PSB-2025-0301"):
        (contact,) = await line.texts(answer)
    assert contact.startswith(EN("newcase.ask_contact"))
    (photos,) = await line.texts("Mother: +86 138 0000")
    assert photos.startswith(EN("newcase.ask_photos"))  # none by SMS: who adds them
    *lead, summary = await line.picks(photos, "No photo")  # too long for one text: whole
    whole = "\n".join([*lead, summary])
    for field in (
        "Name: Li Wei",
        "Police report: PSB-2025-0301",
        "Place: Xi",
        "grey van",
        "Photos: 0",
    ):
        assert field in whole
    (done,) = await line.picks(summary, "Submit the case")
    return done


async def test_a_family_registers_a_missing_child_by_sms_and_is_told_how_photos_follow(
    line, sessions
):
    done = await _whole_case(line)
    (case,) = await _all(sessions, Case)
    assert done == EN("newcase.submitted", ref=case.ref)
    assert (case.status, case.channel, case.full_name) == ("submitted", "sms", "Li Wei")
    assert case.last_seen_place.startswith("Xi") and case.last_seen_lat is not None
    assert case.source_key.startswith("sms-case:") and line.phone not in case.source_key
    assert open_contact(case, vault=TEST_VAULT) == "Mother: +86 138 0000"
    replies = [text for text in line.transcript if not text.startswith("> ")]
    assert all(size(text).segments <= MAX_SEGMENTS for text in replies)
