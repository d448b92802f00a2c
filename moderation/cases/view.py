"""The dashboard's case pages: the list, and one case's sightings on a map and a timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import NotFound
from core.identity.roles import Role
from core.tips.evaluate import case_area
from moderation.policy import require
from moderation.review.tip_access import PASSED_ON, may_view_tip
from moderation.review.tips_view import PlaceView, place_view
from storage.models import Case, CasePhoto, StaffUser, Tip
from storage.refs import normalise_ref
from storage.repositories import CaseRepository

MAX_TIPS = 500


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A line of the case list."""

    case: Case
    tips: int


@dataclass(frozen=True, slots=True)
class Sighting:
    """One of the case's tips as a point in time and (if given) space."""

    tip: Tip
    when: datetime
    place: PlaceView


@dataclass(frozen=True, slots=True)
class CaseView:
    """The case page."""

    case: Case
    sightings: list[Sighting]
    area: dict[str, float] | None


def _visible_statuses(role: str) -> tuple[str, ...] | None:
    return tuple(PASSED_ON) if role == Role.POLICE_LIAISON else None


CASE_STATUSES = ("submitted", "verified", "active", "found", "closed", "withdrawn")
CASE_KINDS = ("missing", "found")


async def list_cases(
    session: AsyncSession, *, staff: StaffUser, status: str = "", kind: str = ""
) -> list[CaseRow]:
    """Cases (of one status and kind, if given), newest first, with the tips the caller may see."""
    require(staff, "case.view", "your role may not see cases")
    counted = select(Tip.case_id, func.count(Tip.id)).where(Tip.case_id.is_not(None))
    statuses = _visible_statuses(staff.role)
    if statuses:
        counted = counted.where(Tip.status.in_(statuses))
    rows = (await session.execute(counted.group_by(Tip.case_id))).all()
    counts = {case_id: count for case_id, count in rows}
    listed = select(Case).order_by(Case.created_at.desc())
    if status in CASE_STATUSES:
        listed = listed.where(Case.status == status)
    if kind in CASE_KINDS:
        listed = listed.where(Case.kind == kind)
    cases = (await session.scalars(listed)).all()
    return [CaseRow(case=c, tips=counts.get(c.id, 0)) for c in cases]


async def case_photos(session: AsyncSession, *, case_id: int) -> list[CasePhoto]:
    """The case's photos in order, with their sanitiser status (only ready ones have copies)."""
    stmt = select(CasePhoto).where(CasePhoto.case_id == case_id)
    return list((await session.scalars(stmt.order_by(CasePhoto.position, CasePhoto.id))).all())


async def view_case(session: AsyncSession, *, staff: StaffUser, ref: str) -> CaseView:
    """One case with its sightings in time order, places by the caller's role; audited. Commits."""
    require(staff, "case.view", "your role may not see cases")
    case = await CaseRepository(session).get_by_ref(normalise_ref(ref))
    if case is None:
        raise NotFound("no such case")
    stmt = select(Tip).where(Tip.case_id == case.id).order_by(Tip.created_at).limit(MAX_TIPS)
    tips = [t for t in (await session.scalars(stmt)).all() if may_view_tip(staff.role, t)]
    sightings = sorted(
        (
            Sighting(tip=t, when=t.seen_at or t.created_at, place=place_view(staff.role, t))
            for t in tips
        ),
        key=lambda s: s.when,
    )
    fields = ["precise_location"] if any(s.place.precise for s in sightings) else []
    await staff_action(session, staff, "case.view", "case", case.ref, detail={"fields": fields})
    await session.commit()
    found = await case_area(session, case_id=case.id)
    area = dict(zip(("lat", "lon", "radius_km"), found, strict=True)) if found else None
    return CaseView(case=case, sightings=sightings, area=area)
