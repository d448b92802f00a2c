"""/alerts as a volunteer has it, through the inbox and the fake Telegram server: opting in with a
location or a typed city, refusals (radius 0 and 10,000 km, a point in the ocean, an unknown
city), "Did you mean…?", settings with pause, resume, change and leave, and the two buttons on
an alert. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from core.alerts.messages import pause_data, report_data
from storage.models import Subscription
from tests.bot.fixtures import seed_case

VOLUNTEER = 8801
XIAN = (34.27, 108.95)


async def subscriptions(sessions) -> list[Subscription]:
    async with sessions() as session:
        return list((await session.scalars(select(Subscription))).all())


async def test_opting_in_with_a_location_radius_language_and_quiet_hours(chat, fake, sessions):
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    assert "send your location" in chat.last_text(VOLUNTEER).lower()
    await chat.send(fake.location_message(VOLUNTEER, *XIAN))
    assert "Xi’an, Shaanxi, China" in chat.last_text(VOLUNTEER)
    assert [label for label, _ in chat.buttons(VOLUNTEER)][:6] == [
        "5 km",
        "10 km",
        "25 km",
        "50 km",
        "100 km",
        "200 km",
    ]
    await chat.press(VOLUNTEER, "25 km")
    assert "which language" in chat.last_text(VOLUNTEER).lower()
    await chat.press(VOLUNTEER, "中文")
    assert "quiet hours" in chat.last_text(VOLUNTEER).lower()
    await chat.send(fake.text_message(VOLUNTEER, "23-6"))
    summary = chat.last_text(VOLUNTEER)
    assert "Radius: 25 km" in summary and "23:00–06:00 (Asia/Shanghai)" in summary
    assert await subscriptions(sessions) == []  # nothing saved before the confirmation
    await chat.press(VOLUNTEER, "Start alerts")
    assert "Thank you" in chat.last_text(VOLUNTEER)
    [sub] = await subscriptions(sessions)
    assert (sub.kind, sub.radius_km, sub.language, sub.paused) == (
        "volunteer",
        25,
        "zh-Hans",
        False,
    )
    assert (round(sub.lat, 2), round(sub.lon, 2)) == XIAN
    assert (sub.quiet_start_min, sub.quiet_end_min, sub.timezone) == (1380, 360, "Asia/Shanghai")


async def test_opting_in_with_a_typed_city_and_a_typed_radius(chat, fake, sessions):
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.send(fake.text_message(VOLUNTEER, "Springfield"))
    assert "did you mean" in chat.last_text(VOLUNTEER).lower()
    await chat.press(VOLUNTEER, "Springfield, Illinois")
    assert "Springfield, Illinois" in chat.last_text(VOLUNTEER)
    await chat.send(fake.text_message(VOLUNTEER, "0"))
    assert "between 1 and 500 km" in chat.last_text(VOLUNTEER)
    await chat.send(fake.text_message(VOLUNTEER, "10000"))
    assert "between 1 and 500 km" in chat.last_text(VOLUNTEER) and "10000" in chat.last_text(
        VOLUNTEER
    )
    await chat.send(fake.text_message(VOLUNTEER, "40 km"))
    await chat.press(VOLUNTEER, "English")
    await chat.press(VOLUNTEER, "No quiet hours")
    assert "Quiet hours: none" in chat.last_text(VOLUNTEER)
    await chat.press(VOLUNTEER, "Start alerts")
    [sub] = await subscriptions(sessions)
    assert sub.radius_km == 40 and sub.place_text.startswith("Springfield, Illinois")
    assert sub.quiet_start_min is None and sub.timezone == "America/Chicago"


async def test_a_point_in_the_ocean_and_an_unknown_city_are_refused_and_the_step_waits(
    chat, fake, sessions
):
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.send(fake.location_message(VOLUNTEER, 0.0, -30.0))
    assert "perhaps at sea" in chat.last_text(VOLUNTEER)
    await chat.send(fake.text_message(VOLUNTEER, "Qwzxyplace"))
    assert "could not find “Qwzxyplace”" in chat.last_text(VOLUNTEER)
    await chat.send(fake.text_message(VOLUNTEER, "Xi'an"))
    assert "how far" in chat.last_text(VOLUNTEER).lower()
    assert await subscriptions(sessions) == []


async def _signed_up(chat, fake) -> None:
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.send(fake.location_message(VOLUNTEER, *XIAN))
    await chat.press(VOLUNTEER, "50 km")
    await chat.press(VOLUNTEER, "English")
    await chat.press(VOLUNTEER, "22:00")
    await chat.press(VOLUNTEER, "Start alerts")


async def test_settings_pause_resume_change_radius_and_area_then_leave(chat, fake, sessions):
    await _signed_up(chat, fake)
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    assert "Status: on" in chat.last_text(VOLUNTEER)
    await chat.press(VOLUNTEER, "Pause")
    assert "paused" in chat.last_text(VOLUNTEER).lower()
    assert (await subscriptions(sessions))[0].paused is True
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    assert "Status: paused" in chat.last_text(VOLUNTEER)
    await chat.press(VOLUNTEER, "Resume")
    assert (await subscriptions(sessions))[0].paused is False
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.press(VOLUNTEER, "Change radius")
    await chat.send(fake.text_message(VOLUNTEER, "0"))
    assert "between 1 and 500 km" in chat.last_text(VOLUNTEER)
    await chat.press(VOLUNTEER, "100 km")
    assert "Saved" in chat.last_text(VOLUNTEER) and "Radius: 100 km" in chat.last_text(VOLUNTEER)
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.press(VOLUNTEER, "Change area")
    await chat.send(fake.text_message(VOLUNTEER, "Beijing"))
    assert "Area: Beijing" in chat.last_text(VOLUNTEER)
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.press(VOLUNTEER, "Leave alerts")
    assert "deleted" in chat.last_text(VOLUNTEER)
    assert await subscriptions(sessions) == []
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    assert "send your location" in chat.last_text(VOLUNTEER).lower()


async def test_the_pause_button_on_an_alert_pauses_alerts(chat, fake, sessions):
    await _signed_up(chat, fake)
    case = await seed_case(sessions, "Li Na", lat=XIAN[0], lon=XIAN[1])
    message = fake.text_message(VOLUNTEER, "(an alert)")["message"]["message_id"]
    await chat.send(fake.callback_query(VOLUNTEER, message, pause_data(case.ref)))
    assert "Alerts paused" in chat.last_text(VOLUNTEER)
    assert (await subscriptions(sessions))[0].paused is True


async def test_the_report_button_on_an_alert_starts_a_report_about_that_case(chat, fake, sessions):
    case = await seed_case(sessions, "Li Na", lat=XIAN[0], lon=XIAN[1])
    message = fake.text_message(VOLUNTEER, "(an alert)")["message"]["message_id"]
    await chat.send(fake.callback_query(VOLUNTEER, message, report_data(case.ref)))
    assert f"You are reporting about Li Na ({case.ref})" in chat.last_text(VOLUNTEER)
    await chat.send(fake.text_message(VOLUNTEER, "A girl in a red coat at the bus stop"))
    assert "when" in chat.last_text(VOLUNTEER).lower()


async def test_cancel_in_the_middle_of_signing_up_stops_only_the_sign_up(chat, fake, sessions):
    await chat.send(fake.command(VOLUNTEER, "alerts"))
    await chat.send(fake.location_message(VOLUNTEER, *XIAN))
    await chat.send(fake.command(VOLUNTEER, "cancel"))
    assert chat.last_text(VOLUNTEER) == "Nothing changed."
    await chat.send(fake.text_message(VOLUNTEER, "25"))  # no longer a radius answer
    assert "radius" not in chat.last_text(VOLUNTEER).lower()
    assert await subscriptions(sessions) == []
