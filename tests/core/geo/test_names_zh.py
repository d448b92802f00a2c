"""Place names in the reader's language: the gazetteer's Chinese alternate names."""

from __future__ import annotations

from functools import cache

import pytest

from core.geo import GeocodingService, build_geocoder
from core.geo.build import chinese_name
from core.tips.drafts import DraftPlace
from core.tips.places import place_at, place_label, resolve_typed


@cache
def geocoder() -> GeocodingService:
    return build_geocoder(user_agent="tipline-test")


def test_the_chinese_name_prefers_the_administrative_form_over_a_nickname():
    assert chinese_name(["Chengdu", "天府", "成都", "成都市"]) == "成都市"
    assert chinese_name(["陕西", "陕西省", "陝西", "陝西省"]) == "陕西省"
    assert chinese_name(["Springfield", "斯普林菲尔德"]) == "斯普林菲尔德"
    assert chinese_name(["Springfield", "Sprngfld"]) == ""


async def test_a_pin_in_chengdu_reads_in_chinese_for_a_chinese_reader():
    place = await place_at(geocoder(), lat=30.66, lon=104.06, source="pin")
    assert place_label(place, "zh-Hans") == "成都市，四川省，中国"
    assert place_label(place, "en") == "Chengdu, Sichuan, China"


@pytest.mark.parametrize(
    ("typed", "chinese"),
    [("Xi'an", "西安市，陕西省，中国"), ("Springfield, IL", "斯普林菲尔德，Illinois，美国")],
)
async def test_a_typed_place_reads_in_chinese_part_by_part(typed, chinese):
    found = await resolve_typed(geocoder(), typed)
    assert found.best is not None and place_label(found.best, "zh-Hans") == chinese


def test_a_place_saved_before_chinese_names_keeps_its_label():
    old = DraftPlace.model_validate({"source": "typed", "label": "Xi’an, Shaanxi, China"})
    assert place_label(old, "zh-Hans") == "Xi’an, Shaanxi, China"
