"""The in-memory place tables: compact columns, a hashed name index and a unit-vector matrix."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CITY, REGION, COUNTRY = 0, 1, 2
EARTH_RADIUS_KM = 6371.0088
NO_AREA = -1

Scope = tuple[int, int]
"""(country id, area id), or (country id, NO_AREA) for the whole country."""


@dataclass(frozen=True, slots=True)
class StringColumn:
    """Many short strings kept as one str and end offsets."""

    # One big allocation instead of tens of thousands of small objects: small survivors
    # scattered through the heap would pin the memory the load used temporarily.
    blob: str
    ends: array[int]

    @classmethod
    def of(cls, values: list[str]) -> StringColumn:
        """Pack a list of strings."""
        ends = array("q", np.cumsum([len(value) for value in values], dtype=np.int64).tobytes())
        return cls("".join(values), ends)

    def __getitem__(self, index: int) -> str:
        start = self.ends[index - 1] if index else 0
        return self.blob[start : self.ends[index]]

    def __len__(self) -> int:
        return len(self.ends)


@dataclass(frozen=True, slots=True)
class Tables:
    """Places (cities first, then regions, then countries) as columns, and their indexes.

    Per-row columns are array.array (fast scalar reads, no per-item objects); countries and
    areas (country + admin1 code) are small integer ids into their own columns.
    """

    kinds: bytes
    names: StringColumn
    names_zh: StringColumn
    """Each row's Chinese name from its alternate names ("" when it has none)."""
    country_ids: array[int]
    area_ids: array[int]
    geonameids: array[int]
    latitudes: array[float]
    longitudes: array[float]
    populations: array[int]
    precision_km: array[float]
    key_hashes: array[int]
    """Sorted hashes of every normalised name; key_rows[i] is row << 1 | (1 if alternate)."""
    key_rows: array[int]
    city_xyz: npt.NDArray[np.float64]
    """Unit vectors of the cities, shape (3, cities), for nearest-city dot products."""
    scopes: dict[str, tuple[Scope, ...]]
    """Normalised country and region names and codes, for "City, Region" qualifiers."""
    country_codes: tuple[str, ...]
    country_names: tuple[str, ...]
    country_names_zh: tuple[str, ...]
    country_index: dict[str, int]
    area_admin1_codes: StringColumn
    area_admin1_names: StringColumn
    area_admin1_names_zh: StringColumn


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return points on the unit sphere (..., 3) for latitudes and longitudes in degrees."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    return np.stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)), axis=-1)
