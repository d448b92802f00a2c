"""What a staff member may see of a tip, assembled for the dashboard's tip page.

Field-level policy: the precise place, a photo's EXIF GPS, the originals and the tipster's record
appear only for roles the policy table allows, and every page that shows one is audited
("tip.view" naming the fields shown). A tip the role may not see is refused and audited.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.geo import distance_km
from moderation.policy import can
from moderation.review.queue import OPEN_STATUSES, ClaimConflict, claim
from moderation.review.tip_access import may_view_tip, visible_tip
from moderation.review.tip_panels import (
    AnswerView,
    FaceView,
    ScoreEntry,
    answer_view,
    case_choices,
    face_views,
    score_history,
)
from storage.models import (
    Case,
    Decision,
    StaffUser,
    Tip,
    TipCluster,
    TipNote,
    TipPhoto,
    Tipster,
)
from storage.repositories import TipRepository
from storage.types import utcnow

COARSE_DECIMALS = 1  # about 11 km: a town, not a doorstep
LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PlaceView:
    """Where: the coarse place always, the point precise only when the role may see it."""

    text: str | None
    point: LatLon | None
    precise: bool
    source: str | None
    precision_m: float | None


@dataclass(frozen=True, slots=True)
class PhotoView:
    """One photo: our clean copy for everyone, evidence fields by role."""

    status: str
    display_sha: str | None
    taken_at: datetime | None
    exif_point: LatLon | None = None
    camera: str | None = None
    original_sha: str | None = None


@dataclass(frozen=True, slots=True)
class TravelView:
    """From the case's last-seen point to this sighting."""

    distance_km: float
    hours: float | None
    mode: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A line of the tip's history: a decision, an answer, an addition or a note."""

    at: datetime | None
    kind: str
    text: str
    who: str = ""


@dataclass(frozen=True, slots=True)
class TipsterView:
    """The pseudonym for every viewer; the record only where the policy allows."""

    pseudonym: str
    promising: int | None = None
    spam: int | None = None
    blocked: bool | None = None


@dataclass(frozen=True, slots=True)
class TipView:
    """Everything the tip page shows for one viewer."""

    tip: Tip
    place: PlaceView
    photos: list[PhotoView]
    case: Case | None
    travel: TravelView | None
    faces: list[FaceView]
    cluster: TipCluster | None
    cluster_tips: list[Tip]
    tipster: TipsterView | None
    history: list[Entry]
    notes: list[Entry]
    parts: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    claimed_by: str | None
    claim_mine: bool
    fields: list[str] = field(default_factory=list)
    answer: AnswerView | None = None
    score_history: list[ScoreEntry] = field(default_factory=list)
    case_choices: list[tuple[str, str]] = field(default_factory=list)


def place_view(role: str, tip: Tip) -> PlaceView:
    """The tip's place as this role may see it."""
    point = (tip.lat, tip.lon) if tip.lat is not None and tip.lon is not None else None
    precise = can(role, "field.precise_location") and (
        tip.location_source != "exif" or can(role, "field.exif_gps")
    )
    if point is not None and not precise:
        point = (round(point[0], COARSE_DECIMALS), round(point[1], COARSE_DECIMALS))
    return PlaceView(
        text=tip.place_text,
        point=point,
        precise=precise and point is not None,
        source=tip.location_source if precise else None,
        precision_m=tip.location_precision_m if precise else None,
    )


def _photo_view(role: str, photo: TipPhoto) -> PhotoView:
    exif = can(role, "field.exif_gps")
    has_gps = photo.exif_lat is not None and photo.exif_lon is not None
    return PhotoView(
        status=photo.status,
        display_sha=photo.display_sha256,
        taken_at=photo.exif_taken_at,
        exif_point=(photo.exif_lat, photo.exif_lon) if exif and has_gps else None,  # type: ignore[arg-type]
        camera=photo.camera if exif else None,
        original_sha=photo.original_sha256 if can(role, "field.original_photo") else None,
    )


def travel_view(tip: Tip, case: Case | None) -> TravelView | None:
    """The evidence worker's travel check if it ran, else the plain distance and time."""
    for part in tip.score_parts.get("parts", ()):
        data = part.get("data") or {}
        if part.get("name") == "travel" and data.get("distance_km") is not None:
            return TravelView(
                distance_km=float(data["distance_km"]),
                hours=data.get("hours"),
                mode=data.get("mode"),
                reason=part.get("reason"),
            )
    if case is None or None in (case.last_seen_lat, case.last_seen_lon, tip.lat, tip.lon):
        return None
    km = distance_km((case.last_seen_lat, case.last_seen_lon), (tip.lat, tip.lon))  # type: ignore[arg-type]
    hours = None
    if case.last_seen_at is not None and tip.seen_at is not None:
        hours = round((tip.seen_at - case.last_seen_at).total_seconds() / 3600, 1)
    return TravelView(distance_km=round(km, 1), hours=hours)


def _tipster_view(role: str, tipster: Tipster | None) -> TipsterView | None:
    if tipster is None:
        return None
    if not can(role, "field.tipster_record"):
        return TipsterView(pseudonym=tipster.pseudonym)
    return TipsterView(
        pseudonym=tipster.pseudonym,
        promising=tipster.promising_count,
        spam=tipster.spam_count,
        blocked=tipster.blocked,
    )


async def _history(session: AsyncSession, tip: Tip) -> list[Entry]:
    stmt = (
        select(Decision, StaffUser.email)
        .join(StaffUser, StaffUser.id == Decision.staff_id)
        .where(Decision.tip_id == tip.id)
    )
    entries = [
        Entry(at=d.created_at, kind=f"decision: {d.outcome}", text=_decision_text(d), who=who)
        for d, who in (await session.execute(stmt)).all()
    ]
    for answer in tip.details.get("answers", ()):
        entries.append(Entry(at=_at(answer), kind="answer", text=answer.get("text", "")))
    for addition in tip.details.get("additions", ()):
        entries.append(Entry(at=_at(addition), kind="addition", text=_addition(addition)))
    return sorted(entries, key=_when)


def _when(entry: Entry) -> datetime:
    return entry.at or datetime.min.replace(tzinfo=UTC)


def _at(item: dict[str, Any]) -> datetime | None:
    """When a tipster's answer or addition arrived (stored as ISO text in tip.details)."""
    try:
        at = datetime.fromisoformat(str(item.get("at", "")))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _decision_text(decision: Decision) -> str:
    extra = [f"{k.replace('_', ' ')}: {v}" for k, v in sorted(decision.details.items())]
    return " · ".join([decision.note, *extra]) if decision.note else " · ".join(extra)


def _addition(addition: dict[str, Any]) -> str:
    """An addition's words and the name of its place (never its coordinates)."""
    place = addition.get("place") or {}
    name = place.get("label") or place.get("text")
    parts = [addition.get("text", ""), f"place: {name}" if name else ""]
    return " · ".join(p for p in parts if p)


async def _notes(session: AsyncSession, tip_id: int) -> list[Entry]:
    stmt = (
        select(TipNote.created_at, StaffUser.email, TipNote.text)
        .join(StaffUser, StaffUser.id == TipNote.staff_id)
        .where(TipNote.tip_id == tip_id)
        .order_by(TipNote.created_at, TipNote.id)
    )
    return [
        Entry(at=at, kind="note", text=text, who=who)
        for at, who, text in await session.execute(stmt)
    ]


def _shown_fields(role: str, tip: Tip, view: PlaceView, photos: list[PhotoView]) -> list[str]:
    fields = []
    if view.precise:
        fields.append("precise_location")
    if any(p.exif_point for p in photos) or (view.precise and tip.location_source == "exif"):
        fields.append("exif_gps")
    if any(p.original_sha for p in photos):
        fields.append("original_photo")
    if tip.tipster_id is not None and can(role, "field.tipster_record"):
        fields.append("tipster_record")
    return fields


async def _claim_on_open(session: AsyncSession, staff: StaffUser, tip: Tip) -> None:
    """Take the lease when a reviewer opens an open tip; someone else's lease stands."""
    if tip.status in OPEN_STATUSES and can(staff.role, "tip.claim"):
        with contextlib.suppress(ClaimConflict):
            await claim(session, tip_id=tip.id, staff_id=staff.id)
        await session.refresh(tip)


async def _claim_holder(session: AsyncSession, tip: Tip) -> str | None:
    if tip.claimed_by is None or tip.claim_expires_at is None or tip.claim_expires_at < utcnow():
        return None
    holder = await session.get(StaffUser, tip.claimed_by)
    return holder.email if holder else None


async def _cluster(
    session: AsyncSession, role: str, tip: Tip
) -> tuple[TipCluster | None, list[Tip]]:
    if tip.cluster_id is None:
        return None, []
    cluster = await session.get(TipCluster, tip.cluster_id)
    stmt = (
        select(Tip)
        .where(Tip.cluster_id == tip.cluster_id, Tip.id != tip.id)
        .order_by(Tip.urgent.desc(), Tip.score.desc(), Tip.id)
        .limit(50)
    )
    members = [t for t in (await session.scalars(stmt)).all() if may_view_tip(role, t)]
    return cluster, members


async def open_tip(session: AsyncSession, *, staff: StaffUser, ref: str) -> TipView:
    """The tip page for one staff member: claims an open tip for a reviewer; audited. Commits."""
    tip = await visible_tip(session, staff=staff, ref=ref)
    await _claim_on_open(session, staff, tip)
    role = staff.role
    place = place_view(role, tip)
    photos = [_photo_view(role, p) for p in await TipRepository(session).list_photos(tip_id=tip.id)]
    case = await session.get(Case, tip.case_id) if tip.case_id else None
    tipster = await session.get(Tipster, tip.tipster_id) if tip.tipster_id else None
    cluster, members = await _cluster(session, role, tip)
    holder = await _claim_holder(session, tip)
    view = TipView(
        tip=tip,
        place=place,
        photos=photos,
        case=case,
        travel=travel_view(tip, case),
        faces=await face_views(session, tip.id),
        cluster=cluster,
        cluster_tips=members,
        tipster=_tipster_view(role, tipster),
        history=await _history(session, tip),
        notes=await _notes(session, tip.id) if can(role, "tip.note") else [],
        parts=list(tip.score_parts.get("parts", ())),
        flags=list(tip.score_parts.get("flags", ())),
        claimed_by=holder,
        claim_mine=holder is not None and tip.claimed_by == staff.id,
        fields=_shown_fields(role, tip, place, photos),
        answer=await answer_view(session, tip),
        score_history=await score_history(session, tip.id),
        case_choices=await case_choices(session) if can(role, "tip.link") else [],
    )
    await record(
        session,
        actor_id=staff.id,
        actor_role=role,
        action="tip.view",
        object_type="tip",
        object_ref=tip.ref,
        detail={"fields": view.fields},
    )
    await session.commit()
    return view
