"""Where a sighting was: a typed name, a pin or a venue, turned into a coarse DraftPlace offline.

The label is always coarse ("City, Region, Country"): it is what moderators and families read.
A pin keeps its exact point in lat/lon (police see it); a typed place gets its centre and a
precision that says how rough that centre is. The time zone is the city's, so a local "14:30"
can be stored as UTC.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.geo import GeocodingService, distance_km, validate_point
from core.geo.zones import country_zone
from core.tips.drafts import DraftPlace, PlaceSource

MAX_PLACE_CHARS = 200
CHOICES = 5
LABEL_RADIUS_KM = 100.0
"""A pin farther than this from any city gets no city label (it would mislead)."""
NAMESAKE_SHARE = 0.05
"""A namesake with at least this share of the top match's people makes a name ambiguous."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a typed place name matched: candidates best first, and whether to ask which."""

    typed: str
    choices: tuple[DraftPlace, ...]
    ambiguous: bool

    @property
    def best(self) -> DraftPlace | None:
        """The place to use without asking, or None when nothing matched."""
        return self.choices[0] if self.choices else None


async def _call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # The offline geocoder is synchronous; Nominatim (opt-in) may be built asynchronous.
    result = func(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def clean_typed(text: str) -> str:
    """Collapse whitespace and cap the length of a typed place."""
    return " ".join(text.split())[:MAX_PLACE_CHARS]


def typed_as_given(text: str) -> DraftPlace:
    """A typed place kept as the tipster wrote it, unresolved."""
    return DraftPlace(source="typed", text=clean_typed(text))


def picked_place(
    value: str, *, choices: Sequence[DraftPlace], typed: str | None
) -> DraftPlace | None:
    """The place a "Did you mean…?" answer picks: a choice by its number, or the text as typed
    ("keep"); None for anything else (the question is asked again)."""
    if value == "keep":
        return typed_as_given(typed or "")
    if value.isdigit() and int(value) < len(choices):
        return choices[int(value)]
    return None


def _raw(location: Any) -> dict[str, Any]:
    raw = getattr(location, "raw", None)
    return raw if isinstance(raw, dict) else {}


def _precision_m(raw: dict[str, Any]) -> float | None:
    km = raw.get("precision_km")
    return float(km) * 1000 if km else None


async def _zone(geocoder: GeocodingService, location: Any) -> str | None:
    raw = _raw(location)
    if raw.get("timezone"):
        return str(raw["timezone"])
    lat, lon = float(location.latitude), float(location.longitude)
    # A region has no zone of its own: its central city's is right for most of it.
    if raw.get("kind") == "region":
        nearest = await _call(geocoder.reverse, (lat, lon), exactly_one=True)
        zone = _raw(nearest).get("timezone") if nearest is not None else None
        if zone:
            return str(zone)
    # A country (or a region with no city): the zone of its tz-database city nearest the centre.
    return country_zone(str(raw.get("country_code") or ""), lat, lon)


def _label_zh(location: Any) -> str | None:
    """The place's name in Chinese (offline gazetteer only; Nominatim gives none)."""
    return str(_raw(location).get("address_zh") or "") or None


def place_label(place: DraftPlace, language: str) -> str | None:
    """A place's label in the reader's language: 成都市，四川省，中国 for a Chinese reader."""
    if language.startswith("zh") and place.label_zh:
        return place.label_zh
    return place.label


async def _candidate(geocoder: GeocodingService, typed: str, location: Any) -> DraftPlace:
    return DraftPlace(
        source="typed",
        text=typed,
        label=str(location.address),
        label_zh=_label_zh(location),
        lat=float(location.latitude),
        lon=float(location.longitude),
        precision_m=_precision_m(_raw(location)),
        timezone=await _zone(geocoder, location),
    )


def _distinct(found: list[Any]) -> list[Any]:
    seen: set[str] = set()
    unique = []
    for location in found:  # "Beijing" the city and the municipality share an address
        if str(location.address) not in seen:
            seen.add(str(location.address))
            unique.append(location)
    exact = [location for location in unique if not _raw(location).get("alternate_match")]
    return (exact or unique)[:CHOICES]


def _is_ambiguous(found: list[Any]) -> bool:
    if len(found) < 2:
        return False
    top = int(_raw(found[0]).get("population") or 0)
    second = int(_raw(found[1]).get("population") or 0)
    return second >= top * NAMESAKE_SHARE


async def resolve_typed(geocoder: GeocodingService, text: str) -> Resolution:
    """Match a typed place name ("Springfield", "西安", "Paris, TX") to coarse places."""
    typed = clean_typed(text)
    found = await _call(geocoder.geocode, typed, exactly_one=False, limit=CHOICES + 3) or []
    candidates = _distinct(list(found))
    choices = tuple([await _candidate(geocoder, typed, location) for location in candidates])
    return Resolution(typed=typed, choices=choices, ambiguous=_is_ambiguous(candidates))


async def place_at(
    geocoder: GeocodingService,
    *,
    lat: float,
    lon: float,
    source: PlaceSource,
    accuracy_m: float | None = None,
    text: str | None = None,
) -> DraftPlace:
    """A shared point (pin, live location, venue) with the nearest city as its coarse label."""
    lat, lon = validate_point(lat, lon)
    nearest = await _call(geocoder.reverse, (lat, lon), exactly_one=True)
    raw = _raw(nearest)
    label = label_zh = None
    if nearest is not None:
        near = distance_km((lat, lon), (nearest.latitude, nearest.longitude)) <= LABEL_RADIUS_KM
        label = str(nearest.address) if near else None
        label_zh = _label_zh(nearest) if near else None
    return DraftPlace(
        source=source,
        lat=lat,
        lon=lon,
        text=clean_typed(text) if text else None,
        label=label,
        label_zh=label_zh,
        precision_m=accuracy_m,
        timezone=str(raw["timezone"]) if raw.get("timezone") else None,
    )
