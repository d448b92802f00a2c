"""A time zone for a place without a city of its own (a region, a country): the zone whose
principal city in the system's tz database (zone.tab) is nearest, within the same country."""

from __future__ import annotations

import math
import re
import zoneinfo
from functools import lru_cache
from pathlib import Path

from core.geo.distance import distance_km

_COORDINATES = re.compile(r"([+-]\d+)([+-]\d+)")


def country_zone(country_code: str | None, lat: float, lon: float) -> str | None:
    """The IANA zone of the country's tz-database city nearest to the point, or None."""
    zones = _zones().get(str(country_code or "").upper(), [])
    if not zones:
        return None
    return min(zones, key=lambda zone: distance_km((lat, lon), zone[1]))[0]


@lru_cache(maxsize=1)
def _zones() -> dict[str, list[tuple[str, tuple[float, float]]]]:
    # The system's tz database lists each zone's country and principal city; no extra dependency.
    for root in zoneinfo.TZPATH:
        table = Path(root) / "zone.tab"
        if table.is_file():
            return _read_zone_tab(table.read_text(encoding="utf-8"))
    return {}


def _read_zone_tab(text: str) -> dict[str, list[tuple[str, tuple[float, float]]]]:
    zones: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 3:
            continue
        coordinates = _COORDINATES.fullmatch(parts[1])
        if coordinates is None or not _zone_exists(parts[2]):
            continue
        point = (_degrees(coordinates.group(1), 2), _degrees(coordinates.group(2), 3))
        zones.setdefault(parts[0], []).append((parts[2], point))
    return zones


def _degrees(text: str, width: int) -> float:
    sign = -1.0 if text[0] == "-" else 1.0
    digits = text[1:]
    value = int(digits[:width]) + int(digits[width : width + 2]) / 60
    if len(digits) > width + 2:
        value += int(digits[width + 2 :]) / 3600
    return math.copysign(value, sign)


def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
