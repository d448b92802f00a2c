"""geopy geocoders: the offline default over the bundled gazetteer, and opt-in Nominatim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point

from core.geo.distance import validate_point
from core.geo.gazetteer import (
    DEFAULT_LIMIT,
    DEFAULT_MIN_POPULATION,
    Gazetteer,
    Place,
    load_gazetteer,
)

PROVIDERS = ("offline", "nominatim")
NOMINATIM_DOMAIN = "nominatim.openstreetmap.org"


class OfflineGeocoder(Geocoder):  # type: ignore[misc]  # geopy ships no type information
    """A geopy geocoder over the bundled GeoNames gazetteer: no network, well under 1 ms a call."""

    def __init__(
        self,
        *,
        gazetteer: Gazetteer | None = None,
        min_population: int = DEFAULT_MIN_POPULATION,
        user_agent: str | None = None,
    ) -> None:
        super().__init__(user_agent=user_agent)
        self._gazetteer = gazetteer
        self._min_population = min_population

    @property
    def gazetteer(self) -> Gazetteer:
        """Return the gazetteer, loading the shared one on first use."""
        if self._gazetteer is None:
            self._gazetteer = load_gazetteer(min_population=self._min_population)
        return self._gazetteer

    def geocode(
        self,
        query: str | None,
        *,
        exactly_one: bool = True,
        timeout: object = DEFAULT_SENTINEL,
        country: str | None = None,
        limit: int | None = None,
    ) -> Location | list[Location] | None:
        """Return the best place (or up to limit candidates, best first) for a name, or None."""
        count = 1 if exactly_one else (limit or DEFAULT_LIMIT)
        places = self.gazetteer.search(query, country=country, limit=count)
        return _result(places, exactly_one=exactly_one)

    def reverse(
        self,
        query: object,
        *,
        exactly_one: bool = True,
        timeout: object = DEFAULT_SENTINEL,
        limit: int | None = None,
        max_km: float | None = None,
    ) -> Location | list[Location] | None:
        """Return the nearest city to a (lat, lon) point as a coarse place, or None."""
        latitude, longitude = _point_of(query)
        count = 1 if exactly_one else (limit or DEFAULT_LIMIT)
        places = self.gazetteer.nearest(latitude, longitude, limit=count, max_km=max_km)
        return _result(places, exactly_one=exactly_one)


def to_location(place: Place) -> Location:
    """Return a geopy Location for a place: its display address, its centre and raw details."""
    return Location(place.address, Point(place.latitude, place.longitude), place.as_raw())


def _result(places: list[Place], *, exactly_one: bool) -> Location | list[Location] | None:
    # geopy's convention, which Nominatim follows too: no result is None, not an empty list.
    if not places:
        return None
    if exactly_one:
        return to_location(places[0])
    return [to_location(place) for place in places]


def _point_of(query: object) -> tuple[float, float]:
    if isinstance(query, Point):
        return validate_point(query.latitude, query.longitude)
    if isinstance(query, str):
        try:
            parsed = Point(query)
        except ValueError as error:
            raise ValueError(f"not a 'latitude, longitude' point: {query[:80]!r}") from error
        return validate_point(parsed.latitude, parsed.longitude)
    if isinstance(query, Sequence) and len(query) == 2:
        return validate_point(query[0], query[1])
    raise ValueError(f"expected a (latitude, longitude) pair, not {query!r:.80}")


@dataclass(frozen=True, slots=True)
class GeocodingService:
    """A geocoder and the geocode/reverse callables to use (rate-limited when online)."""

    provider: str
    geocoder: Geocoder
    geocode: Callable[..., Any]
    reverse: Callable[..., Any]


def build_geocoder(
    *,
    provider: str = "offline",
    user_agent: str,
    asynchronous: bool = False,
    gazetteer: Gazetteer | None = None,
    min_population: int = DEFAULT_MIN_POPULATION,
    domain: str = NOMINATIM_DOMAIN,
    min_delay_seconds: float = 1.0,
    timeout: float = 10.0,
) -> GeocodingService:
    """Build the configured geocoder: offline by default, Nominatim (1 request/s) only on opt-in."""
    if not user_agent or not user_agent.strip():
        raise ValueError("user_agent must name this deployment (Nominatim's usage policy)")
    if provider == "offline":
        offline = OfflineGeocoder(
            gazetteer=gazetteer, min_population=min_population, user_agent=user_agent
        )
        if asynchronous:
            return GeocodingService(
                provider, offline, _as_async(offline.geocode), _as_async(offline.reverse)
            )
        return GeocodingService(provider, offline, offline.geocode, offline.reverse)
    if provider == "nominatim":
        return _nominatim(
            user_agent=user_agent,
            asynchronous=asynchronous,
            domain=domain,
            min_delay_seconds=min_delay_seconds,
            timeout=timeout,
        )
    raise ValueError(f"unknown geocoding provider {provider!r}; expected one of {PROVIDERS}")


def _as_async(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return call


def _nominatim(
    *, user_agent: str, asynchronous: bool, domain: str, min_delay_seconds: float, timeout: float
) -> GeocodingService:
    # Imported here: nothing online is even loaded unless a deployment opts in.
    from geopy.adapters import AioHTTPAdapter
    from geopy.extra.rate_limiter import AsyncRateLimiter, RateLimiter
    from geopy.geocoders import Nominatim

    geocoder = Nominatim(
        user_agent=user_agent,
        domain=domain,
        timeout=timeout,
        adapter_factory=AioHTTPAdapter if asynchronous else None,
    )
    limiter = AsyncRateLimiter if asynchronous else RateLimiter
    # One limiter for both calls: the policy is one request per second in all.
    limited = limiter(partial(_call_nominatim, geocoder), min_delay_seconds=min_delay_seconds)
    return GeocodingService(
        "nominatim", geocoder, partial(limited, "geocode"), partial(limited, "reverse")
    )


def _call_nominatim(geocoder: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    if method == "geocode" and "country" in kwargs:
        kwargs["country_codes"] = kwargs.pop("country")
    return getattr(geocoder, method)(*args, **kwargs)
