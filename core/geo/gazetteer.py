"""The offline gazetteer: find places by name, and the nearest city to a point."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np

from core.geo import sources
from core.geo.build import build_tables
from core.geo.distance import validate_point
from core.geo.names import (
    MAX_QUERY_CHARS,
    key_splits,
    normalise,
    split_parts,
    without_generic_suffix,
)
from core.geo.tables import (
    CITY,
    COUNTRY,
    EARTH_RADIUS_KM,
    NO_AREA,
    REGION,
    Scope,
    Tables,
    unit_vectors,
)

PlaceKind = Literal["city", "region", "country"]
DEFAULT_LIMIT = 10
DEFAULT_MIN_POPULATION = 15000
_KINDS: tuple[PlaceKind, ...] = ("city", "region", "country")


@dataclass(frozen=True, slots=True)
class Place:
    """A coarse place: a city, a first-level region (state, province) or a country."""

    name: str
    kind: PlaceKind
    country_code: str
    country: str
    admin1_code: str | None
    admin1: str | None
    latitude: float
    longitude: float
    population: int
    precision_km: float
    geonameid: int | None
    alternate_match: bool
    timezone: str | None = None
    """The city's IANA time zone (e.g. "Asia/Shanghai"); None for regions and countries."""
    name_zh: str = ""
    admin1_zh: str = ""
    country_zh: str = ""
    """Chinese names from the gazetteer's alternate names ("" where there is none)."""

    @property
    def address(self) -> str:
        """Return "City, Region, Country" with the parts that apply and are not repeats."""
        parts = [self.name]
        if self.kind == "city" and self.admin1 and normalise(self.admin1) != normalise(self.name):
            parts.append(self.admin1)
        if self.kind != "country":
            parts.append(self.country)
        return ", ".join(parts)

    @property
    def address_zh(self) -> str:
        """The address in Chinese (a part with no Chinese name in English): 成都市，四川省，中国."""
        parts = [self.name_zh or self.name]
        if self.kind == "city" and self.admin1 and normalise(self.admin1) != normalise(self.name):
            parts.append(self.admin1_zh or self.admin1)
        if self.kind != "country":
            parts.append(self.country_zh or self.country)
        return "，".join(parts)

    def as_raw(self) -> dict[str, object]:
        """Return the plain dict carried as geopy's Location.raw."""
        return {
            "geonameid": self.geonameid,
            "name": self.name,
            "kind": self.kind,
            "country_code": self.country_code,
            "country": self.country,
            "admin1_code": self.admin1_code,
            "admin1": self.admin1,
            "population": self.population,
            "precision_km": self.precision_km,
            "alternate_match": self.alternate_match,
            "timezone": self.timezone,
            "address_zh": self.address_zh,
        }


class Gazetteer:
    """Name and nearest-city lookups over the tables built from the bundled GeoNames data."""

    def __init__(
        self, tables: Tables, *, timezones: Callable[[], Mapping[int, str]] | None = None
    ) -> None:
        self._t = tables
        self._timezone_source = timezones
        self._timezones: Mapping[int, str] | None = None
        self._timezone_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._t.names)

    def search(
        self, query: str | None, *, country: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> list[Place]:
        """Return places matching a name like "Xi'an" or "Springfield, IL", best first."""
        hint = self._country_hint(country)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit!r}")
        parts = _parts_of(query)
        best: list[int] = []
        best_kind = COUNTRY + 1
        # The most specific part wins; the others narrow it ("Main St, Springfield, IL").
        for index, part in enumerate(parts):
            scopes = [self._scope(normalise(p)) for i, p in enumerate(parts) if i != index]
            hits = self._match(part, [scope for scope in scopes if scope], depth=2)
            kind = min((int(self._t.kinds[hit >> 1]) for hit in hits), default=best_kind)
            if kind < best_kind:
                best, best_kind = hits, kind
            if best_kind == CITY:
                break
        return [self._place(hit) for hit in self._rank(best, hint)[:limit]]

    def nearest(
        self, latitude: float, longitude: float, *, limit: int = 1, max_km: float | None = None
    ) -> list[Place]:
        """Return the cities nearest to a point, nearest first, within max_km if given."""
        latitude, longitude = validate_point(latitude, longitude)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit!r}")
        dots = unit_vectors(latitude, longitude) @ self._t.city_xyz
        count = min(limit, len(dots))
        if count == 1:
            order = np.array([int(np.argmax(dots))])
        else:
            top = np.argpartition(-dots, count - 1)[:count]
            order = top[np.argsort(-dots[top])]
        if max_km is not None:
            distances = np.arccos(np.clip(dots[order], -1.0, 1.0)) * EARTH_RADIUS_KM
            order = order[distances <= max_km]
        return [self._place(int(row) << 1) for row in order]  # cities are the first rows

    def _country_hint(self, country: str | None) -> int | None:
        if country is None:
            return None
        found = self._t.country_index.get(country.strip().upper())
        if found is None:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code: {country!r}")
        return found

    def _lookup(self, key: str) -> Sequence[int]:
        hashes, digest = self._t.key_hashes, hash(key)
        start = bisect_left(hashes, digest)
        return self._t.key_rows[start : bisect_right(hashes, digest, lo=start)]

    def _scope(self, key: str) -> tuple[Scope, ...] | None:
        found = self._t.scopes.get(key)
        stripped = without_generic_suffix(key) if found is None else None
        return self._t.scopes.get(stripped) if stripped else found

    def _filtered(self, key: str, scopes: Sequence[tuple[Scope, ...]]) -> list[int]:
        if not key:
            return []
        hits = self._lookup(key)
        if not hits and (stripped := without_generic_suffix(key)):
            hits = self._lookup(stripped)
        if not scopes:
            return list(hits)
        return [hit for hit in hits if self._within(hit >> 1, scopes)]

    def _within(self, row: int, scopes: Sequence[tuple[Scope, ...]]) -> bool:
        country = self._t.country_ids[row]
        # A country's own row is never inside one of its regions.
        area = NO_AREA - 1 if self._t.kinds[row] == COUNTRY else self._t.area_ids[row]
        return all(any(country == c and a in (NO_AREA, area) for c, a in scope) for scope in scopes)

    def _match(self, part: str, scopes: list[tuple[Scope, ...]], *, depth: int) -> list[int]:
        hits = self._filtered(normalise(part), scopes)
        if hits or depth == 0:
            return hits
        # No separator: "Springfield IL", "Paris France", "陕西省西安市", "中国西安".
        for left, right in key_splits(part):
            for head, qualifier in ((left, right), (right, left)):
                scope = self._scope(normalise(qualifier))
                if scope and (hits := self._match(head, [*scopes, scope], depth=depth - 1)):
                    return hits
        return []

    def _rank(self, hits: list[int], hint: int | None) -> list[int]:
        t = self._t
        # Per tier (0: city matched by its main name, 1: by any name), the areas and countries
        # holding a matched city.
        areas: tuple[set[int], set[int]] = (set(), set())
        countries: tuple[set[int], set[int]] = (set(), set())
        for hit in hits:
            row = hit >> 1
            if t.kinds[row] == CITY:
                for tier in range(hit & 1, 2):
                    areas[tier].add(t.area_ids[row])
                    countries[tier].add(t.country_ids[row])

        def rank(hit: int) -> tuple[bool, int, bool, int]:
            row, tier = hit >> 1, hit & 1
            kind, country = t.kinds[row], t.country_ids[row]
            # "Beijing": the city comes before the municipality (region) of the same name.
            namesake_inside = (kind == COUNTRY and country in countries[tier]) or (
                kind == REGION and t.area_ids[row] in areas[tier]
            )
            return (
                hint is not None and country != hint,
                tier,
                namesake_inside,
                -t.populations[row],
            )

        return sorted(hits, key=rank)

    def _timezone(self, geonameid: int) -> str | None:
        if self._timezone_source is None:
            return None
        if self._timezones is None:
            with self._timezone_lock:
                if self._timezones is None:
                    self._timezones = self._timezone_source()
        return self._timezones.get(geonameid)

    def _place(self, hit: int) -> Place:
        t, row = self._t, hit >> 1
        kind, country, area = t.kinds[row], t.country_ids[row], t.area_ids[row]
        in_region = kind != COUNTRY and bool(t.area_admin1_codes[area])
        geonameid = t.geonameids[row] or None
        return Place(
            name=t.names[row],
            kind=_KINDS[kind],
            country_code=t.country_codes[country],
            country=t.country_names[country],
            admin1_code=t.area_admin1_codes[area] if in_region else None,
            admin1=(t.area_admin1_names[area] or None) if in_region else None,
            latitude=t.latitudes[row],
            longitude=t.longitudes[row],
            population=t.populations[row],
            precision_km=round(t.precision_km[row], 1),
            geonameid=geonameid,
            alternate_match=bool(hit & 1),
            timezone=self._timezone(geonameid) if kind == CITY and geonameid else None,
            name_zh=t.names_zh[row],
            admin1_zh=(t.area_admin1_names_zh[area] or "") if in_region else "",
            country_zh=t.country_names_zh[country],
        )


def _parts_of(query: str | None) -> list[str]:
    if query is None:
        return []
    if not isinstance(query, str):
        raise TypeError(f"query must be a str, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        return []
    return split_parts(query)


def city_timezones(min_population: int) -> dict[int, str]:
    """Return {geonameid: IANA time zone} for the cities of one bundled dataset."""
    zones: dict[str, str] = {}  # one str object per zone, not one per city
    found: dict[int, str] = {}
    for city in sources.iter_cities(sources.cities_file(min_population)):
        if zone := city.get("timezone"):
            found[int(city["geonameid"])] = zones.setdefault(zone, zone)
    return found


_lock = threading.Lock()
_loaded: dict[int, Gazetteer] = {}


def load_gazetteer(*, min_population: int = DEFAULT_MIN_POPULATION) -> Gazetteer:
    """Return the process-wide gazetteer, building it on first use (about a second)."""
    with _lock:
        if min_population not in _loaded:
            _loaded[min_population] = Gazetteer(
                build_tables(min_population=min_population),
                # The zones load with the first lookup (a third of a second), not with the tables.
                timezones=partial(city_timezones, min_population),
            )
        return _loaded[min_population]
