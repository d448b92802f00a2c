"""Build the place tables from the bundled data, once per process (about two seconds)."""

from __future__ import annotations

import io
import math
import re
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from babel import Locale

from core.geo import sources
from core.geo.names import normalise
from core.geo.tables import (
    CITY,
    COUNTRY,
    EARTH_RADIUS_KM,
    NO_AREA,
    REGION,
    Scope,
    StringColumn,
    Tables,
    unit_vectors,
)

COUNTRY_NAME_LOCALES = ("zh_Hans", "zh_Hant")
_COUNTRY_ALIASES = {
    "US": ("USA", "America", "United States of America"),
    "GB": ("UK", "Britain", "Great Britain"),
    "CN": ("PRC", "People's Republic of China", "中华人民共和国", "中華人民共和國"),
    "AE": ("UAE",),
}
_CITY_RADII_KM = ((50_000, 5.0), (1_000_000, 10.0), (5_000_000, 25.0))

Admin1 = dict[str, tuple[str, tuple[str, ...]]]
"""{"CN.26": ("Shaanxi", ("陕西", ...))}"""
Countries = dict[str, dict[str, Any]]


_CJK = re.compile(r"[\u3400-\u9fff]")
# Administrative suffixes: "成都市" over a nickname like "天府", "陕西省" over "陕西".
_ZH_UNITS = ("市", "省", "州", "县", "区", "盟", "旗")


def chinese_name(alternates: Iterable[str]) -> str:
    """The Chinese name among a place's alternate names ("" for none): the first written in
    Chinese characters with an administrative suffix, else the first in Chinese characters.
    GeoNames lists simplified forms before traditional ones for Chinese places."""
    chinese = [name for name in alternates if name and all(_CJK.match(c) for c in name)]
    with_unit = [name for name in chinese if name.endswith(_ZH_UNITS)]
    return (with_unit or chinese or [""])[0]


def city_radius_km(population: int) -> float:
    """Return a rough display radius for a city of this population."""
    for ceiling, radius in _CITY_RADII_KM:
        if population < ceiling:
            return radius
    return 50.0


class _Builder:
    """Accumulates rows and (hash, row) index entries in compact arrays.

    Every object that outlives the load is made before the cities stream through memory or
    after, never during: small survivors scattered among the load's garbage would pin it all.
    So names go to one growing buffer, and countries and areas (country + admin1 code) are
    numbered up front from the country list and the admin1 file.
    """

    def __init__(self, countries: Countries, admin1: Admin1) -> None:
        self.country_codes = sorted(countries)
        self.country_index = {code: i for i, code in enumerate(self.country_codes)}
        self.areas = sorted(_area_of(code) for code in admin1)
        self.area_index = {area: i for i, area in enumerate(self.areas)}
        self.named_areas = len(self.areas)
        self.names = io.StringIO()
        self.name_ends = array("q")
        self.names_zh = io.StringIO()
        self.name_zh_ends = array("q")
        self.kinds = array("b")
        self.country_ids = array("H")
        self.area_ids = array("H")
        self.geonameids = array("q")
        self.latitudes = array("d")
        self.longitudes = array("d")
        self.populations = array("q")
        self.precision_km = array("f")
        self.key_hashes = array("q")
        self.key_rows = array("i")

    def add_place(
        self, kind: int, name: str, area: tuple[str, str], record: dict[str, Any]
    ) -> None:
        """Add a row; record holds geonameid, latitude, longitude, population, precision_km."""
        row = len(self.kinds)
        self.kinds.append(kind)
        self.name_ends.append((self.name_ends[-1] if row else 0) + self.names.write(name))
        zh = chinese_name(record["alternatenames"])
        self.name_zh_ends.append((self.name_zh_ends[-1] if row else 0) + self.names_zh.write(zh))
        self.country_ids.append(self._country_id(area[0]))
        self.area_ids.append(self._area_id(area))
        self.geonameids.append(record["geonameid"])
        self.latitudes.append(record["latitude"])
        self.longitudes.append(record["longitude"])
        self.populations.append(record["population"])
        self.precision_km.append(record["precision_km"])
        self._add_keys(row, name, record["alternatenames"])

    def _country_id(self, code: str) -> int:
        if code not in self.country_index:  # a code missing from countries.json: rare
            self.country_index[code] = len(self.country_codes)
            self.country_codes.append(code)
        return self.country_index[code]

    def _area_id(self, area: tuple[str, str]) -> int:
        if area not in self.area_index:  # an admin1 code without a name ("00", ""): rare
            self.area_index[area] = len(self.areas)
            self.areas.append(area)
        return self.area_index[area]

    def _add_keys(self, row: int, name: str, alternates: Iterable[str]) -> None:
        primary = normalise(name)
        # Python's str hash is stable within a process, which is all an in-memory index needs.
        self.key_hashes.append(hash(primary))
        self.key_rows.append(row << 1)
        for key in {normalise(alt) for alt in alternates} - {primary, ""}:
            self.key_hashes.append(hash(key))
            self.key_rows.append(row << 1 | 1)

    def city_column(self, column: array[Any]) -> npt.NDArray[Any]:
        """Return a column's values for the cities (the first rows) as a numpy view."""
        cities = int(np.count_nonzero(np.frombuffer(self.kinds, dtype=np.int8) == CITY))
        return np.frombuffer(column, dtype=np.dtype(column.typecode))[:cities]


def _area_of(code: str) -> tuple[str, str]:
    country_code, _, admin1_code = code.partition(".")
    return country_code, admin1_code


def _country_aliases(iso: str, locales: list[dict[str, str]]) -> tuple[str, ...]:
    names = [territories[iso] for territories in locales if iso in territories]
    return (*names, *_COUNTRY_ALIASES.get(iso, ()))


def _scopes(
    builder: _Builder, admin1: Admin1, countries: Countries, locales: list[dict[str, str]]
) -> dict[str, tuple[Scope, ...]]:
    """Map normalised region and country names and codes to the areas they name."""
    found: dict[str, set[Scope]] = {}

    def add(alias: str, scope: Scope) -> None:
        if key := normalise(alias):
            found.setdefault(key, set()).add(scope)

    for code, (name, alternates) in admin1.items():
        country_code, admin1_code = _area_of(code)
        scope = (
            builder.country_index[country_code],
            builder.area_index[(country_code, admin1_code)],
        )
        for alias in (name, *alternates):
            add(alias, scope)
        if country_code == "US":  # "Springfield, IL": US admin1 codes are the postal codes
            add(admin1_code, scope)
    for iso, country in countries.items():
        for alias in (country["name"], iso, country["iso3"], *_country_aliases(iso, locales)):
            add(alias, (builder.country_index[iso], NO_AREA))
    return {key: tuple(sorted(scopes)) for key, scopes in found.items()}


def _add_cities(builder: _Builder, min_population: int) -> None:
    for city in sources.iter_cities(sources.cities_file(min_population)):
        city["precision_km"] = city_radius_km(city["population"])
        builder.add_place(CITY, city["name"], (city["countrycode"], city["admin1code"]), city)


def _group_centres(
    builder: _Builder, group_of_city: npt.NDArray[np.intp], groups: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return (lat, lon, radius_km) per group of cities (-1: none): mean direction, farthest one."""
    member = group_of_city >= 0
    group_of_city = group_of_city[member]
    lat = builder.city_column(builder.latitudes)[member]
    xyz = unit_vectors(lat, builder.city_column(builder.longitudes)[member])
    sums = np.zeros((groups, 3))
    np.add.at(sums, group_of_city, xyz)
    centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    min_dot = np.ones(groups)
    np.minimum.at(min_dot, group_of_city, np.einsum("ij,ij->i", xyz, centres[group_of_city]))
    radius = np.arccos(np.clip(min_dot, -1.0, 1.0)) * EARTH_RADIUS_KM
    lat = np.degrees(np.arcsin(np.clip(centres[:, 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(centres[:, 1], centres[:, 0]))
    return lat, lon, radius


def _add_regions(builder: _Builder, admin1: Admin1) -> None:
    groups = builder.named_areas  # the areas numbered from the admin1 file come first
    area_of_city = builder.city_column(builder.area_ids).astype(np.intp)
    member = np.where(area_of_city < groups, area_of_city, -1)
    lat, lon, radius = _group_centres(builder, member, groups)
    weights = builder.city_column(builder.populations)[member >= 0]
    pops = np.bincount(member[member >= 0], weights=weights, minlength=groups)
    for area in np.flatnonzero(np.bincount(member[member >= 0], minlength=groups)):
        country_code, admin1_code = builder.areas[area]
        name, alternates = admin1[f"{country_code}.{admin1_code}"]
        record: dict[str, Any] = {
            "geonameid": 0,
            "latitude": float(lat[area]),
            "longitude": float(lon[area]),
        }
        record |= {"population": int(pops[area]), "alternatenames": alternates}
        record["precision_km"] = float(np.clip(radius[area], 25.0, 1500.0))
        builder.add_place(REGION, name, (country_code, admin1_code), record)


def _add_countries(builder: _Builder, countries: Countries, locales: list[dict[str, str]]) -> None:
    groups = len(builder.country_codes)
    member = builder.city_column(builder.country_ids).astype(np.intp)
    lat, lon, _ = _group_centres(builder, member, groups)
    for i in np.flatnonzero(np.bincount(member, minlength=groups)):
        iso = builder.country_codes[i]
        if iso not in countries:
            continue
        country = countries[iso]
        radius = math.sqrt(max(float(country["areakm2"]), 1.0) / math.pi)
        record: dict[str, Any] = {"latitude": float(lat[i]), "longitude": float(lon[i])}
        record |= {"geonameid": int(country["geonameid"]), "population": country["population"]}
        record |= {"alternatenames": _country_aliases(iso, locales)}
        record["precision_km"] = min(max(radius, 5.0), 3000.0)
        builder.add_place(COUNTRY, country["name"], (iso, ""), record)


def _finish(
    builder: _Builder,
    countries: Countries,
    admin1: Admin1,
    scopes: dict[str, tuple[Scope, ...]],
    zh_countries: dict[str, str],
) -> Tables:
    hashes = np.frombuffer(builder.key_hashes, dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    rows = np.frombuffer(builder.key_rows, dtype=np.int32)[order]
    xyz = unit_vectors(
        builder.city_column(builder.latitudes), builder.city_column(builder.longitudes)
    )
    codes = builder.country_codes
    return Tables(
        kinds=builder.kinds.tobytes(),
        names=StringColumn(builder.names.getvalue(), builder.name_ends),
        names_zh=StringColumn(builder.names_zh.getvalue(), builder.name_zh_ends),
        country_ids=builder.country_ids,
        area_ids=builder.area_ids,
        geonameids=builder.geonameids,
        latitudes=builder.latitudes,
        longitudes=builder.longitudes,
        populations=builder.populations,
        precision_km=builder.precision_km,
        key_hashes=array("q", hashes[order].tobytes()),
        key_rows=array("i", rows.tobytes()),
        city_xyz=np.ascontiguousarray(xyz.T),
        scopes=scopes,
        country_codes=tuple(codes),
        country_names=tuple(countries.get(cc, {}).get("name", cc) for cc in codes),
        country_names_zh=tuple(zh_countries.get(cc, "") for cc in codes),
        country_index=dict(builder.country_index),
        area_admin1_codes=StringColumn.of([a1 for _, a1 in builder.areas]),
        area_admin1_names=StringColumn.of(
            [admin1.get(f"{cc}.{a1}", ("",))[0] for cc, a1 in builder.areas]
        ),
        area_admin1_names_zh=StringColumn.of(
            [chinese_name(admin1.get(f"{cc}.{a1}", ("", ()))[1]) for cc, a1 in builder.areas]
        ),
    )


def build_tables(*, min_population: int = 15000) -> Tables:
    """Read the bundled data and build the tables; takes a second or two, so do it once."""
    admin1 = sources.admin1_names()
    countries = sources.countries()
    locales = [dict(Locale.parse(name).territories) for name in COUNTRY_NAME_LOCALES]
    builder = _Builder(countries, admin1)
    scopes = _scopes(builder, admin1, countries, locales)
    _add_cities(builder, min_population)
    _add_regions(builder, admin1)
    _add_countries(builder, countries, locales)
    return _finish(builder, countries, admin1, scopes, locales[0])
