"""The offline place layer: names, ambiguity, hints, reverse lookups, distances and boxes."""

import json
import math
from pathlib import Path

import pytest
from geopy.adapters import AioHTTPAdapter
from geopy.distance import geodesic
from geopy.extra.rate_limiter import AsyncRateLimiter, RateLimiter
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder
from geopy.point import Point

from core.geo import (
    Gazetteer,
    OfflineGeocoder,
    bbox,
    bbox_contains,
    build_geocoder,
    distance_km,
    load_gazetteer,
    longitude_ranges,
    normalise,
    sources,
    validate_point,
)
from core.geo import geocoder as geocoder_module

XIAN_ID = 1790630


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.fixture(scope="module")
def geocoder(gazetteer: Gazetteer) -> OfflineGeocoder:
    return OfflineGeocoder(gazetteer=gazetteer)


# Names


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("Xi'an", "xian"),
        ("Xi’an", "xian"),
        ("XI-AN", "xian"),
        ("xi an", "xian"),
        ("Xī'ān", "xian"),
        ("Ürümqi", "urumqi"),
        ("Łódź", "lodz"),
        ("São Paulo", "saopaulo"),
        ("ＰＡＲＩＳ", "paris"),
        ("St. Louis", "stlouis"),
        ("西安", "西安"),
        ("🙂", ""),
    ],
)
def test_normalise_drops_case_accents_apostrophes_hyphens_spaces_and_symbols(
    spelling: str, key: str
) -> None:
    assert normalise(spelling) == key


@pytest.mark.parametrize(
    "spelling",
    [
        "Xi'an",
        "Xian",
        "Xi’an",
        "xi an",
        "西安",
        "XI-AN",
        "Xī'ān",
        "  xi'an ",
        "西安市",
        "Xi'an City",
    ],
)
def test_every_spelling_of_xian_resolves_to_xian_china(
    geocoder: OfflineGeocoder, spelling: str
) -> None:
    location = geocoder.geocode(spelling)
    assert location is not None
    assert location.raw["geonameid"] == XIAN_ID
    assert location.address == "Xi’an, Shaanxi, China"


def test_location_raw_carries_the_place_details(geocoder: OfflineGeocoder) -> None:
    location = geocoder.geocode("Xi'an")
    assert location.raw["country_code"] == "CN"
    assert location.raw["admin1"] == "Shaanxi"
    assert location.raw["admin1_code"] == "26"
    assert location.raw["kind"] == "city"
    assert location.raw["population"] > 5_000_000
    assert 5 <= location.raw["precision_km"] <= 50
    assert (location.latitude, location.longitude) == pytest.approx((34.258, 108.929), abs=0.01)


@pytest.mark.parametrize(
    ("chinese", "name", "province"),
    [
        ("北京", "Beijing", "Beijing"),
        ("上海", "Shanghai", "Shanghai"),
        ("乌鲁木齐", "Ürümqi", "Xinjiang"),
        ("拉萨", "Lhasa", "Tibet"),
        ("呼和浩特", "Hohhot", "Inner Mongolia"),
        ("哈尔滨", "Harbin", "Heilongjiang"),
        ("广州", "Guangzhou", "Guangdong"),
        ("成都", "Chengdu", "Sichuan"),
        ("福州", "Fuzhou", "Fujian"),
        ("抚州", "Fuzhou", "Jiangxi"),
        ("深圳", "Shenzhen", "Guangdong"),
    ],
)
def test_chinese_city_names_resolve_to_the_right_city(
    gazetteer: Gazetteer, chinese: str, name: str, province: str
) -> None:
    best = gazetteer.search(chinese)[0]
    assert (best.name, best.admin1, best.country_code, best.kind) == (name, province, "CN", "city")


def test_chinese_province_and_country_names_resolve_to_region_and_country(
    gazetteer: Gazetteer,
) -> None:
    shaanxi = gazetteer.search("陕西省")[0]
    assert (shaanxi.kind, shaanxi.name, shaanxi.country_code) == ("region", "Shaanxi", "CN")
    china = gazetteer.search("中国")[0]
    assert (china.kind, china.name) == ("country", "China")


@pytest.mark.parametrize(
    "address", ["陕西省西安市", "中国西安", "中国陕西西安", "西安, 陕西", "Xi'an, China"]
)
def test_chinese_style_addresses_without_separators_resolve_to_the_city(
    gazetteer: Gazetteer, address: str
) -> None:
    assert gazetteer.search(address)[0].geonameid == XIAN_ID


# Ambiguity, qualifiers and hints


def test_springfield_is_ambiguous_and_lists_candidates_by_population(
    geocoder: OfflineGeocoder,
) -> None:
    candidates = geocoder.geocode("Springfield", exactly_one=False)
    assert len(candidates) >= 8
    exact = [c for c in candidates if not c.raw["alternate_match"]]
    assert all(c.raw["name"] == "Springfield" for c in exact)
    assert {c.raw["admin1"] for c in exact} >= {"Missouri", "Massachusetts", "Illinois", "Ohio"}
    populations = [c.raw["population"] for c in exact]
    assert populations == sorted(populations, reverse=True)
    assert exact[0].address == "Springfield, Missouri, United States"


def test_limit_caps_the_candidates(geocoder: OfflineGeocoder) -> None:
    assert len(geocoder.geocode("Springfield", exactly_one=False, limit=3)) == 3


@pytest.mark.parametrize(
    ("query", "address"),
    [
        ("Paris", "Paris, Île-de-France, France"),
        ("Paris, US", "Paris, Texas, United States"),
        ("Paris, USA", "Paris, Texas, United States"),
        ("Paris, Texas", "Paris, Texas, United States"),
        ("Paris France", "Paris, Île-de-France, France"),
        ("Springfield, IL", "Springfield, Illinois, United States"),
        ("Springfield IL", "Springfield, Illinois, United States"),
        ("springfield, illinois, usa", "Springfield, Illinois, United States"),
        ("123 Main St, Springfield, MO", "Springfield, Missouri, United States"),
        ("London, Canada", "London, Ontario, Canada"),
        ("Beijing", "Beijing, China"),
    ],
)
def test_city_with_country_or_region_narrows_the_result(
    geocoder: OfflineGeocoder, query: str, address: str
) -> None:
    assert geocoder.geocode(query).address == address


def test_paris_us_excludes_france_but_plain_paris_keeps_both(geocoder: OfflineGeocoder) -> None:
    in_us = geocoder.geocode("Paris, US", exactly_one=False)
    assert {c.raw["country_code"] for c in in_us} == {"US"}
    anywhere = geocoder.geocode("Paris", exactly_one=False)
    assert {"FR", "US"} <= {c.raw["country_code"] for c in anywhere}


def test_city_unknown_in_the_named_country_falls_back_to_the_country(
    gazetteer: Gazetteer,
) -> None:
    best = gazetteer.search("Paris, China")[0]
    assert (best.kind, best.name) == ("country", "China")
    assert best.precision_km > 1000


def test_beijing_city_ranks_before_beijing_municipality(gazetteer: Gazetteer) -> None:
    kinds = [place.kind for place in gazetteer.search("Beijing")[:2]]
    assert kinds == ["city", "region"]


def test_country_hint_ranks_places_in_that_country_first(geocoder: OfflineGeocoder) -> None:
    assert geocoder.geocode("Paris", country="US").address == "Paris, Texas, United States"
    assert geocoder.geocode("London", country="ca").address == "London, Ontario, Canada"
    hinted = geocoder.geocode("Springfield", exactly_one=False, country="US", limit=20)
    assert {c.raw["country_code"] for c in hinted[:8]} == {"US"}


def test_country_hint_does_not_hide_a_place_elsewhere(geocoder: OfflineGeocoder) -> None:
    assert geocoder.geocode("Xi'an", country="US").raw["geonameid"] == XIAN_ID


def test_unknown_country_hint_is_a_clear_error(geocoder: OfflineGeocoder) -> None:
    with pytest.raises(ValueError, match="country code"):
        geocoder.geocode("Paris", country="XX")


# Bad input


@pytest.mark.parametrize(
    "query",
    ["", "   ", ",,,", None, "x" * 10_000, "🙂🙂🙂", "'; DROP TABLE tips; --", "\x00\x01", "zzqxv"],
)
def test_bad_or_unknown_queries_find_nothing_without_crashing(
    geocoder: OfflineGeocoder, query: str | None
) -> None:
    assert geocoder.geocode(query) is None
    assert geocoder.geocode(query, exactly_one=False) is None


def test_a_query_that_is_not_text_is_a_clear_error(geocoder: OfflineGeocoder) -> None:
    with pytest.raises(TypeError, match="query must be a str"):
        geocoder.geocode(12345)  # type: ignore[arg-type]


def test_limit_below_one_is_a_clear_error(gazetteer: Gazetteer) -> None:
    with pytest.raises(ValueError, match="limit"):
        gazetteer.search("Paris", limit=0)


# Reverse


@pytest.mark.parametrize("point", [(34.30, 108.95), "34.30, 108.95", Point(34.30, 108.95)])
def test_reverse_near_xian_gives_xian_at_the_city_centre(
    geocoder: OfflineGeocoder, point: object
) -> None:
    location = geocoder.reverse(point)
    assert location.raw["geonameid"] == XIAN_ID
    assert location.address == "Xi’an, Shaanxi, China"
    # The coarse place, never the point we were given.
    assert (location.latitude, location.longitude) == (34.25833, 108.92861)


def test_reverse_lists_nearest_cities_nearest_first(geocoder: OfflineGeocoder) -> None:
    nearby = geocoder.reverse((34.30, 108.95), exactly_one=False, limit=3)
    distances = [distance_km((34.30, 108.95), (c.latitude, c.longitude)) for c in nearby]
    assert len(nearby) == 3
    assert distances == sorted(distances)


def test_reverse_across_the_antimeridian_finds_the_city_on_the_other_side(
    geocoder: OfflineGeocoder,
) -> None:
    # Suva (178.4° E) is about 220 km west of this point; Tonga is more than twice as far east.
    location = geocoder.reverse((-18.14, -179.5))
    assert location.raw["country_code"] == "FJ"


def test_reverse_far_from_any_city_within_max_km_finds_nothing(geocoder: OfflineGeocoder) -> None:
    assert geocoder.reverse((0.0, -160.0), max_km=100) is None


@pytest.mark.parametrize("point", [(91.0, 0.0), (0.0, 181.0), None, "somewhere", (math.nan, 0.0)])
def test_reverse_of_an_invalid_point_is_a_clear_error(
    geocoder: OfflineGeocoder, point: object
) -> None:
    with pytest.raises(ValueError, match=r"latitude|longitude|point|pair"):
        geocoder.reverse(point)


# Distances and boxes


def test_distance_is_geodesic_on_wgs84() -> None:
    assert distance_km((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111.3195, abs=0.001)
    assert distance_km((34.258, 108.929), (39.907, 116.397)) == pytest.approx(914, abs=10)


@pytest.mark.parametrize(
    ("lat", "lon", "value"),
    [(90.5, 0, "latitude"), (-91, 0, "latitude"), (0, 180.1, "longitude"), (0, -200, "longitude")],
)
def test_validate_point_rejects_out_of_range_values(lat: float, lon: float, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        validate_point(lat, lon)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12", None, True])
def test_validate_point_rejects_values_that_are_not_finite_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="latitude"):
        validate_point(bad, 0.0)


def test_validate_point_returns_floats() -> None:
    assert validate_point(90, -180) == (90.0, -180.0)


@pytest.mark.parametrize(
    ("lat", "lon", "radius_km"),
    [
        (0.0, 0.0, 10.0),
        (34.26, 108.93, 50.0),
        (-33.9, 151.2, 1000.0),
        (60.0, 25.0, 300.0),
        (0.0, 179.9, 50.0),
        (-60.0, -179.5, 500.0),
        (89.5, 10.0, 100.0),
        (-88.0, 0.0, 300.0),
        (10.0, 20.0, 5000.0),
    ],
)
def test_every_point_within_the_radius_is_inside_the_box(
    lat: float, lon: float, radius_km: float
) -> None:
    box = bbox(lat, lon, radius_km)
    for bearing in range(0, 360, 5):
        for fraction in (0.5, 0.999):
            point = geodesic(kilometers=radius_km * fraction).destination((lat, lon), bearing)
            assert bbox_contains(box, point.latitude, point.longitude), (bearing, fraction, box)


def test_box_is_tight_at_the_equator() -> None:
    min_lat, max_lat, min_lon, max_lon = bbox(0.0, 0.0, 111.0)
    assert max_lat - min_lat == pytest.approx(2.0, abs=0.02)
    assert max_lon - min_lon == pytest.approx(2.0, abs=0.02)


def test_box_across_the_antimeridian_has_two_longitude_ranges() -> None:
    box = bbox(0.0, 179.9, 50.0)
    assert box[2] > box[3]
    assert longitude_ranges(box) == [(box[2], 180.0), (-180.0, box[3])]
    assert bbox_contains(box, 0.0, -179.9)
    assert not bbox_contains(box, 0.0, 0.0)


def test_box_around_a_pole_spans_every_longitude() -> None:
    min_lat, max_lat, min_lon, max_lon = bbox(89.5, 10.0, 100.0)
    assert (max_lat, min_lon, max_lon) == (90.0, -180.0, 180.0)
    assert min_lat == pytest.approx(88.6, abs=0.05)


@pytest.mark.parametrize("radius", [-1.0, math.nan, "5"])
def test_box_rejects_a_bad_radius(radius: object) -> None:
    with pytest.raises(ValueError, match="radius_km"):
        bbox(0.0, 0.0, radius)  # type: ignore[arg-type]


# Geocoder factory (construction only: no network in tests)


def test_offline_is_the_default_provider(gazetteer: Gazetteer) -> None:
    service = build_geocoder(user_agent="tipline-tests/1", gazetteer=gazetteer)
    assert service.provider == "offline"
    assert isinstance(service.geocoder, OfflineGeocoder)
    assert isinstance(service.geocoder, Geocoder)
    assert service.geocode("Xi'an").raw["geonameid"] == XIAN_ID


async def test_asynchronous_offline_geocoder_is_awaitable(gazetteer: Gazetteer) -> None:
    service = build_geocoder(user_agent="tipline-tests/1", gazetteer=gazetteer, asynchronous=True)
    location = await service.geocode("西安")
    nearest = await service.reverse((34.3, 108.95))
    assert location.raw["geonameid"] == nearest.raw["geonameid"] == XIAN_ID


def test_nominatim_is_rate_limited_to_one_request_a_second_with_our_user_agent() -> None:
    service = build_geocoder(provider="nominatim", user_agent="tipline-tests/1")
    assert isinstance(service.geocoder, Nominatim)
    assert service.geocoder.headers["User-Agent"] == "tipline-tests/1"
    limiter = service.geocode.func
    assert isinstance(limiter, RateLimiter)
    assert limiter.min_delay_seconds == 1.0
    assert service.reverse.func is limiter  # one budget for both calls


def test_asynchronous_nominatim_uses_aiohttp_and_the_async_rate_limiter() -> None:
    service = build_geocoder(provider="nominatim", user_agent="tipline-tests/1", asynchronous=True)
    assert isinstance(service.geocoder.adapter, AioHTTPAdapter)
    assert isinstance(service.geocode.func, AsyncRateLimiter)


def test_nominatim_receives_the_country_hint_as_country_codes() -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def geocode(self, query: str, **kwargs: object) -> str:
            calls.append((query, kwargs))
            return "ok"

    assert geocoder_module._call_nominatim(Recorder(), "geocode", "Paris", country="fr") == "ok"
    assert calls == [("Paris", {"country_codes": "fr"})]


@pytest.mark.parametrize(
    ("provider", "user_agent", "message"),
    [
        ("offline", "", "user_agent"),
        ("nominatim", "  ", "user_agent"),
        ("google", "t/1", "provider"),
    ],
)
def test_bad_factory_arguments_are_clear_errors(
    provider: str, user_agent: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_geocoder(provider=provider, user_agent=user_agent)


# Data sources


def test_streaming_reader_matches_json_load_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = {
        str(i): {"geonameid": i, "name": f'Town "{i}" }}{{', "alternatenames": ["西安", "a,b"]}
        for i in range(40)
    }
    path = tmp_path / "cities.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(sources, "_CHUNK_CHARS", 7)
    assert list(sources.iter_cities(path)) == list(records.values())


def test_streaming_reader_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cities.json"
    path.write_text('{"1": {"geonameid": 1, "name": "A"}, "2": {"geonameid": 2', encoding="utf-8")
    with pytest.raises(ValueError, match="truncated"):
        list(sources.iter_cities(path))


def test_unshipped_population_threshold_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="min_population"):
        sources.cities_file(2500)


def test_every_city_of_the_shipped_list_is_loaded(gazetteer: Gazetteer) -> None:
    expected = sum(1 for _ in sources.iter_cities(sources.cities_file(15000)))
    cities = [gazetteer.search(name)[0] for name in ("Xi'an", "Paris", "Reykjavík")]
    assert expected > 30_000
    assert len(gazetteer) > expected  # cities, then regions and countries
    assert [c.country_code for c in cities] == ["CN", "FR", "IS"]
