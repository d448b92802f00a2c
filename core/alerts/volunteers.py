"""Volunteers opted in to area alerts: one subscription per person, with an area, a radius, a
language and quiet hours.

The area is a shared point or a typed city, resolved offline; a point far from any town (at sea)
is refused, and so is a radius outside 1..500 km. Refusals carry a text key for the bot.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.catchup import catch_up_volunteer
from core.alerts.dispatch import DEFAULT_PER_DAY
from core.errors import InvalidInput
from core.geo import GeocodingService
from core.i18n import SUPPORTED
from core.tips.places import LABEL_RADIUS_KM, place_at, resolve_typed
from storage.models import Subscription
from storage.types import utcnow

KIND = "volunteer"
MAX_RADIUS_KM = 500.0
RADIUS_CHOICES = (5, 10, 25, 50, 100, 200)
NIGHT = (22 * 60, 7 * 60)
_RADIUS = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*(?:km|公里|千米)?\s*", re.IGNORECASE)
_QUIET = re.compile(r"\s*(\d{1,2})(?::(\d{2}))?\s*[-–—~至到]\s*(\d{1,2})(?::(\d{2}))?\s*")


class VolunteerRefused(InvalidInput):
    """Input the volunteer must change; `key` and `values` make the message in their language."""

    def __init__(self, key: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Area:
    """Where a volunteer looks out: a point, its coarse label and the local time zone."""

    lat: float
    lon: float
    label: str
    timezone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for conversation state."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CityChoice:
    """A typed city: the area to use, or the candidates to ask about ("Did you mean…?")."""

    best: Area | None
    choices: tuple[Area, ...]


async def area_from_point(geocoder: GeocodingService, *, lat: float, lon: float) -> Area:
    """A shared location as an area; refused when no town is near it (perhaps at sea)."""
    try:
        place = await place_at(geocoder, lat=lat, lon=lon, source="pin")
    except ValueError as error:
        raise VolunteerRefused("volunteer.at_sea", str(error), km=int(LABEL_RADIUS_KM)) from error
    if place.label is None or place.lat is None or place.lon is None:
        raise VolunteerRefused(
            "volunteer.at_sea",
            f"no town within {LABEL_RADIUS_KM:g} km of that point",
            km=int(LABEL_RADIUS_KM),
        )
    return Area(lat=place.lat, lon=place.lon, label=place.label, timezone=place.timezone)


async def area_from_text(geocoder: GeocodingService, text: str) -> CityChoice:
    """A typed city; refused when nothing matches, candidates when the name is ambiguous."""
    found = await resolve_typed(geocoder, text)
    areas = tuple(
        Area(lat=p.lat, lon=p.lon, label=p.label or found.typed, timezone=p.timezone)
        for p in found.choices
        if p.lat is not None and p.lon is not None
    )
    if not areas:
        typed = found.typed[:50]
        raise VolunteerRefused("volunteer.city_unknown", f"no place called {typed!r}", text=typed)
    return CityChoice(best=None if found.ambiguous else areas[0], choices=areas)


def parse_radius(text: str) -> float:
    """A radius typed or tapped ("25", "25 km"): 1..500 km, else refused."""
    match = _RADIUS.fullmatch(text or "")
    radius = float(match.group(1).replace(",", ".")) if match else math.nan
    if not (math.isfinite(radius) and 1 <= radius <= MAX_RADIUS_KM):
        raise VolunteerRefused(
            "volunteer.radius_invalid",
            f"the radius must be between 1 and {MAX_RADIUS_KM:g} km",
            text=(text or "")[:20],
            max=int(MAX_RADIUS_KM),
        )
    return radius


def _minutes(hours: str, minutes: str | None) -> int | None:
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        return 0
    return hour * 60 + minute if hour < 24 and minute < 60 else None


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """Quiet hours typed as "23-6" or "22:30-07:00": (start, end) minutes after midnight."""
    match = _QUIET.fullmatch(text or "")
    bounds = (_minutes(match[1], match[2]), _minutes(match[3], match[4])) if match else None
    if bounds is None or None in bounds or bounds[0] == bounds[1]:
        raise VolunteerRefused(
            "volunteer.quiet_invalid", "quiet hours look like 23-6", text=(text or "")[:20]
        )
    start, end = bounds
    assert start is not None and end is not None
    return start, end


def _check(*, radius_km: float, language: str) -> None:
    parse_radius(f"{radius_km:g}")
    if language not in SUPPORTED:
        raise ValueError(f"language must be one of {SUPPORTED}, not {language!r}")


async def get_volunteer(session: AsyncSession, *, tipster_id: int) -> Subscription | None:
    """This person's volunteer subscription, if they have one."""
    stmt = select(Subscription).where(
        Subscription.tipster_id == tipster_id, Subscription.kind == KIND
    )
    return await session.scalar(stmt.order_by(Subscription.id).limit(1))


async def subscribe_volunteer(
    session: AsyncSession,
    *,
    tipster_id: int,
    area: Area,
    radius_km: float,
    language: str,
    quiet: tuple[int, int] | None,
    per_day: int = DEFAULT_PER_DAY,
) -> Subscription:
    """Sign up for alerts (or replace one's settings: one subscription per person); commits."""
    _check(radius_km=radius_km, language=language)
    sub = await get_volunteer(session, tipster_id=tipster_id)
    if sub is None:
        sub = Subscription(kind=KIND, tipster_id=tipster_id, paused=False)
        session.add(sub)
    _set_area(sub, area)
    sub.radius_km, sub.language = radius_km, language
    sub.quiet_start_min, sub.quiet_end_min = quiet if quiet else (None, None)
    await catch_up_volunteer(session, subscription=sub, now=utcnow(), per_day=per_day)
    await session.commit()
    return sub


def _set_area(sub: Subscription, area: Area) -> None:
    sub.lat, sub.lon, sub.place_text, sub.timezone = area.lat, area.lon, area.label, area.timezone


async def _existing(session: AsyncSession, tipster_id: int) -> Subscription:
    sub = await get_volunteer(session, tipster_id=tipster_id)
    if sub is None:
        raise VolunteerRefused("volunteer.not_subscribed", "not signed up for area alerts")
    return sub


async def change_area(
    session: AsyncSession, *, tipster_id: int, area: Area, per_day: int = DEFAULT_PER_DAY
) -> Subscription:
    """Move one's alert area; commits."""
    sub = await _existing(session, tipster_id)
    _set_area(sub, area)
    await catch_up_volunteer(session, subscription=sub, now=utcnow(), per_day=per_day)
    await session.commit()
    return sub


async def change_radius(
    session: AsyncSession, *, tipster_id: int, radius_km: float, per_day: int = DEFAULT_PER_DAY
) -> Subscription:
    """Change how far one's alerts reach; commits."""
    sub = await _existing(session, tipster_id)
    _check(radius_km=radius_km, language=sub.language)
    sub.radius_km = radius_km
    await catch_up_volunteer(session, subscription=sub, now=utcnow(), per_day=per_day)
    await session.commit()
    return sub


async def change_quiet_hours(
    session: AsyncSession, *, tipster_id: int, quiet: tuple[int, int] | None
) -> Subscription:
    """Set or clear one's quiet hours; commits."""
    sub = await _existing(session, tipster_id)
    sub.quiet_start_min, sub.quiet_end_min = quiet if quiet else (None, None)
    await session.commit()
    return sub


async def set_paused(
    session: AsyncSession, *, tipster_id: int, paused: bool, per_day: int = DEFAULT_PER_DAY
) -> Subscription:
    """Pause or resume one's alerts; commits."""
    sub = await _existing(session, tipster_id)
    sub.paused = paused
    await catch_up_volunteer(session, subscription=sub, now=utcnow(), per_day=per_day)
    await session.commit()
    return sub


async def leave_alerts(session: AsyncSession, *, tipster_id: int) -> bool:
    """Stop alerts and delete one's area and settings; False when there was nothing; commits."""
    stmt = delete(Subscription).where(
        Subscription.tipster_id == tipster_id, Subscription.kind == KIND
    )
    removed = (await session.execute(stmt.returning(Subscription.id))).all()
    await session.commit()
    return bool(removed)


def format_quiet(quiet: tuple[int | None, int | None]) -> tuple[str, str] | None:
    """("22:00", "07:00") for display, or None without quiet hours."""
    start, end = quiet
    if start is None or end is None:
        return None
    return f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"
