"""Who gets an area alert: volunteers near a case, chosen fast (bounding box, then haversine).

The database narrows by the indexed box around the case (ix_subscriptions_lat_lon) and leaves
out anyone already alerted for the case; numpy keeps those whose point is within the case's
radius and whose own radius reaches the case; the daily cap is checked on what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import Row, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.geo import bbox, longitude_ranges
from storage.models import CaseAlert, Subscription

EARTH_RADIUS_KM = 6371.0088
CAP_CHUNK = 5000  # ids per IN list, well under SQLite's and asyncpg's parameter limits
DAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A volunteer to alert: what the message needs, and how far they are from the case."""

    subscription_id: int
    tipster_id: int
    language: str
    timezone: str | None
    quiet_start_min: int | None
    quiet_end_min: int | None
    distance_km: float


_COLUMNS = (
    Subscription.id,
    Subscription.tipster_id,
    Subscription.lat,
    Subscription.lon,
    Subscription.radius_km,
    Subscription.language,
    Subscription.timezone,
    Subscription.quiet_start_min,
    Subscription.quiet_end_min,
)


def box_query(
    *, case_id: int, lat: float, lon: float, radius_km: float
) -> Select[*tuple[Any, ...]]:
    """Active volunteers inside the box around the point, not yet alerted for this case."""
    min_lat, max_lat, *_ = box = bbox(lat, lon, radius_km)
    spans = [Subscription.lon.between(low, high) for low, high in longitude_ranges(box)]
    alerted = exists().where(
        CaseAlert.case_id == case_id,
        CaseAlert.subscription_id == Subscription.id,
        CaseAlert.kind == "alert",
    )
    return select(*_COLUMNS).where(
        Subscription.lat.between(min_lat, max_lat),
        or_(*spans) if len(spans) > 1 else spans[0],
        Subscription.kind == "volunteer",
        Subscription.paused.is_(False),
        ~alerted,
    )


def haversine_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances from one point to many, in kilometres."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    dphi, dlambda = phi2 - phi1, np.radians(lons - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))  # type: ignore[no-any-return]


async def find_recipients(
    session: AsyncSession,
    *,
    case_id: int,
    lat: float,
    lon: float,
    radius_km: float,
    per_day: int,
    now: datetime,
) -> list[Recipient]:
    """Volunteers to alert now for a case centred here with this radius, nearest first."""
    rows = (
        await session.execute(box_query(case_id=case_id, lat=lat, lon=lon, radius_km=radius_km))
    ).all()
    if not rows:
        return []
    lats = np.fromiter((row.lat for row in rows), dtype=float, count=len(rows))
    lons = np.fromiter((row.lon for row in rows), dtype=float, count=len(rows))
    reach = np.fromiter((row.radius_km or 0.0 for row in rows), dtype=float, count=len(rows))
    distances = haversine_km(lat, lon, lats, lons)
    keep = np.flatnonzero((distances <= radius_km) & (distances <= reach))
    order = [int(i) for i in keep[np.argsort(distances[keep], kind="stable")]]
    capped = await _capped(session, [rows[i].id for i in order], per_day=per_day, now=now)
    return [_recipient(rows[i], float(distances[i])) for i in order if rows[i].id not in capped]


def _recipient(row: Row[Any], distance: float) -> Recipient:
    return Recipient(
        subscription_id=row.id,
        tipster_id=row.tipster_id,
        language=row.language,
        timezone=row.timezone,
        quiet_start_min=row.quiet_start_min,
        quiet_end_min=row.quiet_end_min,
        distance_km=distance,
    )


async def _capped(
    session: AsyncSession, ids: Sequence[int], *, per_day: int, now: datetime
) -> set[int]:
    """Which of these volunteers already had `per_day` alerts in the last 24 hours."""
    capped: set[int] = set()
    for start in range(0, len(ids), CAP_CHUNK):
        chunk = list(ids[start : start + CAP_CHUNK])
        stmt = (
            select(CaseAlert.subscription_id)
            .where(
                CaseAlert.subscription_id.in_(chunk),
                and_(CaseAlert.kind == "alert", CaseAlert.created_at > now - DAY),
            )
            .group_by(CaseAlert.subscription_id)
            .having(func.count() >= per_day)
        )
        capped.update((await session.scalars(stmt)).all())
    return capped


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def deliver_at(
    *, now: datetime, timezone: str | None, start_min: int | None, end_min: int | None
) -> datetime:
    """When a message may reach this volunteer: now, or the end of their quiet hours."""
    zone = _zone(timezone)
    if zone is None or start_min is None or end_min is None or start_min == end_min:
        return now
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    if start_min < end_min:
        quiet = start_min <= minute < end_min
    else:  # over midnight, e.g. 22:00-07:00
        quiet = minute >= start_min or minute < end_min
    if not quiet:
        return now
    end = datetime.combine(local.date(), time(end_min // 60, end_min % 60), tzinfo=zone)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(now.tzinfo)
