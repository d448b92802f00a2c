"""Places from what a tipster gives, and a typed local seen time read in that place's zone."""

from datetime import UTC, date, datetime, time
from functools import cache

import pytest

from core.geo import GeocodingService, build_geocoder
from core.tips.drafts import Draft, DraftPlace, parse_seen
from core.tips.places import place_at, resolve_typed, typed_as_given

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 17:00 in Xi'an, 04:00 in New York


@cache
def geocoder() -> GeocodingService:
    return build_geocoder(user_agent="tipline-test")


@cache
def async_geocoder() -> GeocodingService:
    return build_geocoder(user_agent="tipline-test", asynchronous=True)


async def test_a_chinese_city_name_resolves_to_one_coarse_place_with_its_zone():
    found = await resolve_typed(geocoder(), "  西安 ")
    assert not found.ambiguous
    place = found.best
    assert place is not None
    assert place.label == "Xi’an, Shaanxi, China"
    assert place.text == "西安"
    assert place.source == "typed"
    assert place.timezone == "Asia/Shanghai"
    assert place.precision_m is not None and 5_000 <= place.precision_m <= 50_000
    assert place.lat == pytest.approx(34.26, abs=0.2)


async def test_springfield_is_ambiguous_and_offers_distinct_coarse_choices():
    found = await resolve_typed(geocoder(), "Springfield")
    assert found.ambiguous
    labels = [c.label for c in found.choices]
    assert len(labels) == len(set(labels)) <= 5
    assert "Springfield, Illinois, United States" in labels
    assert all(c.timezone and c.timezone.startswith("America/") for c in found.choices)


async def test_a_qualified_name_and_a_dominant_namesake_are_not_ambiguous():
    assert not (await resolve_typed(geocoder(), "Springfield, IL")).ambiguous
    london = await resolve_typed(geocoder(), "London")
    assert not london.ambiguous
    assert london.best is not None and london.best.timezone == "Europe/London"


async def test_a_region_gets_the_zone_of_its_central_city_and_nonsense_matches_nothing():
    region = (await resolve_typed(geocoder(), "Shaanxi")).best
    assert region is not None and region.timezone == "Asia/Shanghai"
    assert (await resolve_typed(geocoder(), "zzqqxx")).best is None
    assert typed_as_given("  behind the   school ") == DraftPlace(
        source="typed", text="behind the school"
    )


async def test_a_pin_keeps_its_exact_point_and_takes_the_nearest_city_as_label():
    place = await place_at(async_geocoder(), lat=34.2583, lon=108.9286, source="pin")
    assert (place.lat, place.lon) == (34.2583, 108.9286)
    assert place.label == "Xi’an, Shaanxi, China"
    assert place.timezone == "Asia/Shanghai"
    venue = await place_at(
        geocoder(), lat=40.758, lon=-73.9855, source="venue", text="Times Square, NY"
    )
    assert venue.text == "Times Square, NY" and venue.timezone == "America/New_York"


async def test_a_pin_far_out_at_sea_has_no_city_label():
    place = await place_at(geocoder(), lat=-40.0, lon=-120.0, source="pin")
    assert place.label is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("14:30", (None, time(14, 30))),
        ("2:30pm", (None, time(14, 30))),
        ("at 9.05", (None, time(9, 5))),
        ("下午3点半", (None, time(15, 30))),
        ("2026-11-20", (date(2026, 11, 20), None)),
        ("2026-11-20 14:30", (date(2026, 11, 20), time(14, 30))),
        ("20/11 14:30", (date(4, 11, 20), time(14, 30))),
        ("11/20", (date(4, 11, 20), None)),
        ("20.11.2026", (date(2026, 11, 20), None)),
        ("11月20日 下午3点", (date(4, 11, 20), time(15, 0))),
        ("29/02", (date(4, 2, 29), None)),
    ],
)
def test_typed_moments_are_read(typed, expected):
    assert parse_seen(typed) == expected


@pytest.mark.parametrize("typed", ["hello", "25:00", "31/02", "2026-02-30", "last week 3pm", ""])
def test_unreadable_moments_are_refused(typed):
    assert parse_seen(typed) is None


def test_a_local_time_is_stored_as_utc_in_the_places_zone_and_follows_a_later_place():
    draft = Draft()
    assert draft.set_seen_from_text("20/11 14:30", now=NOW) == "ok"
    assert draft.when == "day"
    assert draft.seen_at == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)  # no place yet: UTC
    draft.set_place(DraftPlace(source="typed", timezone="Asia/Shanghai"), now=NOW)
    assert draft.seen_at == datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
    draft.set_place(None, now=NOW)
    assert draft.seen_at == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def test_earlier_today_uses_the_places_today_and_refuses_the_future():
    draft = Draft(place=DraftPlace(source="typed", timezone="Asia/Shanghai"))
    assert draft.set_seen_from_text("20:00", now=NOW) == "future"  # 17:00 there now
    assert draft.seen_at is None
    assert draft.set_seen_from_text("16:15", now=NOW) == "ok"
    assert (draft.when, draft.seen_at) == ("today", datetime(2026, 11, 21, 8, 15, tzinfo=UTC))
    assert draft.set_seen_from_text("14:30", now=NOW, need_date=True) == "need_date"


def test_a_day_without_a_year_still_ahead_this_year_is_last_year():
    draft = Draft()
    assert draft.set_seen_from_text("24/12", now=NOW) == "ok"
    assert draft.seen_date == date(2025, 12, 24)
    assert draft.set_seen_from_text("2027-01-01", now=NOW) == "future"
    assert draft.seen_date == date(2025, 12, 24)


def test_long_descriptions_are_cut_and_say_so():
    draft = Draft()
    assert draft.append_text("a" * 3990)
    assert not draft.append_text("b" * 96)
    assert len(draft.text) == 4000
