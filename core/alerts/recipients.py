"""Who gets an area alert: volunteers near a case, chosen fast (bounding box, then haversine).

The database narrows by the indexed box around the case (ix_subscriptions_lat_lon) and leaves
out anyone already alerted for the case or at their daily cap (index probes on case_alerts);
numpy keeps those whose point is within the case's radius and whose own radius reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.geo import bbox, longitude_ranges
from storage.models import CaseAlert, Subscription

EARTH_RADIUS_KM = 6371.0088
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
    *, case_id: int, lat: float, lon: float, radius_km: float, per_day: int, since: datetime
) -> Select[*tuple[Any, ...]]:
    """Active volunteers inside the box around the point, not yet alerted for this case and
    under their daily cap (both checks are index probes per row, in the same statement)."""
    min_lat, max_lat, *_ = box = bbox(lat, lon, radius_km)
    spans = [Subscription.lon.between(low, high) for low, high in longitude_ranges(box)]
    alerted = exists().where(
        CaseAlert.case_id == case_id,
        CaseAlert.subscription_id == Subscription.id,
        CaseAlert.kind == "alert",
    )
    today = (
        select(func.count())
        .where(
            CaseAlert.subscription_id == Subscription.id,
            CaseAlert.created_at > since,
            CaseAlert.kind == "alert",
        )
        .scalar_subquery()
    )
    return select(*_COLUMNS).where(
        Subscription.lat.between(min_lat, max_lat),
        or_(*spans) if len(spans) > 1 else spans[0],
        Subscription.kind == "volunteer",
        Subscription.paused.is_(False),
        ~alerted,
        today < per_day,
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
    stmt = box_query(
        case_id=case_id, lat=lat, lon=lon, radius_km=radius_km, per_day=per_day, since=now - DAY
    )
    rows = [tuple(row) for row in (await session.execute(stmt)).all()]
    if not rows:
        return []
    _, _, lats, lons, reach, *_ = zip(*rows, strict=True)
    distances = haversine_km(lat, lon, np.array(lats, dtype=float), np.array(lons, dtype=float))
    reaches = np.array([r or 0.0 for r in reach], dtype=float)
    keep = np.flatnonzero((distances <= radius_km) & (distances <= reaches))
    order = keep[np.argsort(distances[keep], kind="stable")].tolist()
    return [_recipient(rows[i], float(distances[i])) for i in order]


def _recipient(row: tuple[Any, ...], distance: float) -> Recipient:
    sub_id, tipster_id, _, _, _, language, zone, quiet_start, quiet_end = row
    return Recipient(
        subscription_id=sub_id,
        tipster_id=tipster_id,
        language=language,
        timezone=zone,
        quiet_start_min=quiet_start,
        quiet_end_min=quiet_end,
        distance_km=distance,
    )


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
