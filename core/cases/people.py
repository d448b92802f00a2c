"""Cases as the public web shows them (/people): public fields only, ready photos only.

Verified and active cases, and found ones with a found notice. Never the family's contact,
the police reference, the precise last-seen point or anything of the tips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.public import shown_publicly
from storage.models import Case, CasePhoto
from storage.refs import normalise_ref

MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class PublicPhoto:
    """One of our sanitised copies of a case photo, numbered from 1 in the case's order."""

    number: int
    display_sha256: str
    thumb_sha256: str
    age_note: str
    kind: str = "photo"
    age_months: int | None = None


@dataclass(frozen=True, slots=True)
class PublicPerson:
    """The public face of a case."""

    ref: str
    kind: str
    status: str
    full_name: str
    nicknames: str
    sex: str | None
    age_years: int | None
    description: str
    marks: str
    languages: str
    dialect: str
    circumstances: str
    last_seen_at: datetime | None
    last_seen_place: str
    poster_version: int
    photos: tuple[PublicPhoto, ...]

    @property
    def found(self) -> bool:
        """Whether the person was found (no more sightings wanted)."""
        return self.status == "found"


def age_of(case: Case) -> int | None:
    """Age in years when last seen: as recorded, or from the birth date."""
    if case.age_years is not None or case.birth_date is None:
        return case.age_years
    on = case.last_seen_at.date() if case.last_seen_at else date.today()
    born = case.birth_date
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _person(case: Case, photos: Sequence[CasePhoto]) -> PublicPerson:
    return PublicPerson(
        ref=case.ref,
        kind=case.kind,
        status=case.status,
        full_name=case.full_name,
        nicknames=case.nicknames or "",
        sex=case.sex,
        age_years=age_of(case),
        description=case.description or "",
        marks=case.marks or "",
        languages=case.languages or "",
        dialect=case.dialect or "",
        circumstances=case.circumstances or "",
        last_seen_at=case.last_seen_at,
        last_seen_place=case.last_seen_place or "",
        poster_version=case.poster_version or 0,
        photos=tuple(
            PublicPhoto(
                number=number,
                display_sha256=photo.display_sha256 or "",
                thumb_sha256=photo.thumb_sha256 or photo.display_sha256 or "",
                age_note=photo.age_note or "",
                kind=photo.kind,
                age_months=photo.age_months,
            )
            for number, photo in enumerate(photos, start=1)
        ),
    )


async def _ready_photos(session: AsyncSession, case_ids: list[int]) -> dict[int, list[CasePhoto]]:
    if not case_ids:
        return {}
    stmt = (
        select(CasePhoto)
        .where(CasePhoto.case_id.in_(case_ids), CasePhoto.status == "ready")
        .where(CasePhoto.display_sha256.is_not(None))
        .order_by(CasePhoto.case_id, CasePhoto.position, CasePhoto.id)
    )
    found: dict[int, list[CasePhoto]] = {}
    for photo in (await session.scalars(stmt)).all():
        found.setdefault(photo.case_id, []).append(photo)
    return found


async def list_people(session: AsyncSession, *, limit: int = MAX_LISTED) -> list[PublicPerson]:
    """Public cases, newest first, each with its ready photos."""
    stmt = select(Case).where(shown_publicly()).order_by(Case.created_at.desc(), Case.id.desc())
    cases = (await session.scalars(stmt.limit(limit))).all()
    photos = await _ready_photos(session, [case.id for case in cases])
    return [_person(case, photos.get(case.id, [])) for case in cases]


async def get_page_case(session: AsyncSession, *, ref: str) -> Case | None:
    """The case behind a public page, or None (unknown and non-public alike)."""
    stmt = select(Case).where(Case.ref == normalise_ref(ref)).where(shown_publicly())
    return await session.scalar(stmt)


async def get_person(session: AsyncSession, *, ref: str) -> PublicPerson | None:
    """One public case by its reference, or None (unknown and non-public alike)."""
    case = await get_page_case(session, ref=ref)
    if case is None:
        return None
    photos = await _ready_photos(session, [case.id])
    return _person(case, photos.get(case.id, []))


def photo_of(person: PublicPerson, number: int) -> PublicPhoto | None:
    """The person's photo with that number, or None."""
    return next((photo for photo in person.photos if photo.number == number), None)
