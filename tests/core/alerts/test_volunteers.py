"""Volunteer subscriptions (core/alerts/volunteers.py): areas from a pin or a typed city, refusals
(at sea, unknown city, bad radius, bad quiet hours), one subscription per person, pause, resume and
leave. The database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from functools import cache

import pytest
from sqlalchemy import func, select

from core.alerts.volunteers import (
    Area,
    VolunteerRefused,
    area_from_point,
    area_from_text,
    change_area,
    change_quiet_hours,
    change_radius,
    get_volunteer,
    leave_alerts,
    parse_quiet_hours,
    parse_radius,
    set_paused,
    subscribe_volunteer,
)
from core.geo import GeocodingService, build_geocoder
from storage.models import Subscription, Tipster

XIAN = Area(lat=34.26, lon=108.94, label="Xi’an, Shaanxi, China", timezone="Asia/Shanghai")


@cache
def geocoder() -> GeocodingService:
    return build_geocoder(user_agent="tipline-test")


async def test_a_shared_point_becomes_an_area_with_its_town_and_time_zone():
    area = await area_from_point(geocoder(), lat=34.27, lon=108.95)
    assert area.label.startswith("Xi") and area.timezone == "Asia/Shanghai"
    assert (area.lat, area.lon) == (34.27, 108.95)  # the volunteer's point, not the town's


@pytest.mark.parametrize("point", [(0.0, -30.0), (35.0, 150.0), (-50.0, -120.0)])
async def test_a_point_in_the_ocean_is_refused_with_a_reason(point):
    with pytest.raises(VolunteerRefused) as refused:
        await area_from_point(geocoder(), lat=point[0], lon=point[1])
    assert refused.value.key == "volunteer.at_sea" and refused.value.values == {"km": 100}


async def test_a_typed_city_resolves_and_a_namesake_asks_which():
    found = await area_from_text(geocoder(), "西安")
    assert found.best is not None and found.best.timezone == "Asia/Shanghai"
    springfield = await area_from_text(geocoder(), "Springfield")
    assert springfield.best is None and len(springfield.choices) >= 3
    assert all(choice.label.startswith("Springfield") for choice in springfield.choices)


async def test_an_unknown_city_is_refused_saying_what_was_typed():
    with pytest.raises(VolunteerRefused) as refused:
        await area_from_text(geocoder(), "Qwzxyplace")
    assert refused.value.key == "volunteer.city_unknown"
    assert refused.value.values["text"] == "Qwzxyplace"


@pytest.mark.parametrize(("typed", "km"), [("25", 25.0), (" 12,5 km ", 12.5), ("500", 500.0)])
def test_a_radius_may_be_typed_with_or_without_km(typed, km):
    assert parse_radius(typed) == km


@pytest.mark.parametrize("typed", ["0", "-5", "500.5", "10000", "ten", "", "nan", "1e3"])
def test_a_radius_of_zero_negative_or_over_500_km_is_refused(typed):
    with pytest.raises(VolunteerRefused) as refused:
        parse_radius(typed)
    assert refused.value.key == "volunteer.radius_invalid"


@pytest.mark.parametrize(
    ("typed", "minutes"),
    [("23-6", (1380, 360)), ("22:30-07:00", (1350, 420)), ("0-24", None), ("9 – 17", (540, 1020))],
)
def test_quiet_hours_are_typed_as_start_and_end(typed, minutes):
    if minutes is None:  # 0-24 is the same minute twice: no window at all
        with pytest.raises(VolunteerRefused):
            parse_quiet_hours(typed)
    else:
        assert parse_quiet_hours(typed) == minutes


@pytest.mark.parametrize("typed", ["25-6", "23:61-6", "late", "6", "7-7"])
def test_nonsense_quiet_hours_are_refused(typed):
    with pytest.raises(VolunteerRefused) as refused:
        parse_quiet_hours(typed)
    assert refused.value.key == "volunteer.quiet_invalid"


async def _tipster(session) -> int:
    tipster = Tipster(pseudonym=f"T-{secrets.token_hex(6)}")
    session.add(tipster)
    await session.commit()
    return tipster.id


async def test_signing_up_twice_keeps_one_subscription_with_the_new_settings(session):
    tipster_id = await _tipster(session)
    await subscribe_volunteer(
        session, tipster_id=tipster_id, area=XIAN, radius_km=25, language="en", quiet=None
    )
    sub = await subscribe_volunteer(
        session,
        tipster_id=tipster_id,
        area=XIAN,
        radius_km=50,
        language="zh-Hans",
        quiet=(1380, 360),
    )
    count = await session.scalar(select(func.count()).select_from(Subscription))
    assert count == 1
    assert (sub.kind, sub.radius_km, sub.language, sub.timezone) == (
        "volunteer",
        50,
        "zh-Hans",
        "Asia/Shanghai",
    )
    assert (sub.quiet_start_min, sub.quiet_end_min) == (1380, 360)


async def test_a_bad_radius_is_refused_by_the_use_case_too_and_nothing_is_saved(session):
    tipster_id = await _tipster(session)
    for radius in (0, -1, 10_000):
        with pytest.raises(VolunteerRefused):
            await subscribe_volunteer(
                session,
                tipster_id=tipster_id,
                area=XIAN,
                radius_km=radius,
                language="en",
                quiet=None,
            )
    assert await get_volunteer(session, tipster_id=tipster_id) is None


async def test_pause_resume_change_and_leave(session):
    tipster_id = await _tipster(session)
    with pytest.raises(VolunteerRefused):
        await set_paused(session, tipster_id=tipster_id, paused=True)
    await subscribe_volunteer(
        session, tipster_id=tipster_id, area=XIAN, radius_km=25, language="en", quiet=None
    )
    assert (await set_paused(session, tipster_id=tipster_id, paused=True)).paused
    assert not (await set_paused(session, tipster_id=tipster_id, paused=False)).paused
    beijing = Area(lat=39.9, lon=116.4, label="Beijing, China", timezone="Asia/Shanghai")
    assert (
        await change_area(session, tipster_id=tipster_id, area=beijing)
    ).place_text == "Beijing, China"
    assert (await change_radius(session, tipster_id=tipster_id, radius_km=100)).radius_km == 100
    sub = await change_quiet_hours(session, tipster_id=tipster_id, quiet=(1320, 420))
    assert (sub.quiet_start_min, sub.quiet_end_min) == (1320, 420)
    assert await leave_alerts(session, tipster_id=tipster_id) is True
    assert await get_volunteer(session, tipster_id=tipster_id) is None
    assert await leave_alerts(session, tipster_id=tipster_id) is False
