"""Cases as the public may see them: verified or active, found by code, name or place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.geo import bbox, distance_km, longitude_ranges
from storage.models import Case
from storage.refs import normalise_ref
from storage.repositories import CaseRepository
from storage.sqlite_driver import inline

PUBLIC_STATUSES = ("verified", "active")
NEAR_RADIUS_KM = 100.0


@dataclass(frozen=True, slots=True)
class NearbyCase:
    """A public case and how far its last known place is from a point."""

    case: Case
    distance_km: float


def is_public(case: Case | None) -> bool:
    """Whether the case is open to the public: shown on its pages and taking reports."""
    return case is not None and case.status in PUBLIC_STATUSES


def shown_publicly() -> ColumnElement[bool]:
    """Which cases the public pages show, as SQL: the open ones (is_public), and found ones that
    were verified first (their reunion notice). Nothing is public before a senior verifies it."""
    return or_(
        Case.status.in_(PUBLIC_STATUSES),
        (Case.status == "found") & Case.verified_at.is_not(None),
    )


async def get_public_case(session: AsyncSession, *, code: str) -> Case | None:
    """A public case by its code as typed or deep-linked ("case_ab2c-d3ef"); None otherwise."""
    cleaned = code.strip()
    if cleaned.lower().startswith("case_"):
        cleaned = cleaned[len("case_") :]
    case = await CaseRepository(session).get_by_ref(normalise_ref(cleaned))
    return case if is_public(case) else None


# Built once: every "Report a sighting" asks it, and building it cost more than running it.
_ANY_PUBLIC = inline(select(exists().where(Case.status.in_(PUBLIC_STATUSES))))


async def has_public_cases(session: AsyncSession) -> bool:
    """Whether there is any case a tipster could pick."""
    return bool(await session.scalar(_ANY_PUBLIC))


async def list_cases_near(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    radius_km: float = NEAR_RADIUS_KM,
    limit: int = 5,
) -> list[NearbyCase]:
    """Public cases last seen within radius_km of a point, nearest first."""
    box = bbox(lat, lon, radius_km)
    min_lat, max_lat, _, _ = box
    spans = [Case.last_seen_lon.between(low, high) for low, high in longitude_ranges(box)]
    stmt = (
        select(Case)
        .where(Case.status.in_(PUBLIC_STATUSES))
        .where(Case.last_seen_lat.between(min_lat, max_lat))
        .where(or_(*spans))
    )
    found = []
    for case in (await session.scalars(stmt)).all():
        if case.last_seen_lat is None or case.last_seen_lon is None:
            continue
        distance = distance_km((lat, lon), (case.last_seen_lat, case.last_seen_lon))
        if distance <= radius_km:
            found.append(NearbyCase(case=case, distance_km=distance))
    found.sort(key=lambda nearby: nearby.distance_km)
    return found[:limit]
