"""The case registry: registering a missing (or found) person and editing the record.

A new case is "submitted" and private; moderation/cases/lifecycle.py verifies and publishes it.
The family's contact is sealed by the vault and never stored in plain text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.matching import refresh_matches
from core.cases.photo_ages import MAX_AGE_MONTHS, PHOTO, PHOTO_KINDS
from core.errors import InvalidInput
from core.geo import validate_point
from core.i18n import Texts
from core.identity.vault import Vault
from core.tips.rescoring import LAST_SEEN_FIELDS, mark_case_tips
from storage.models import Case, CasePhoto
from storage.repositories import CaseRepository
from storage.types import utcnow

KINDS = ("missing", "found")
SEXES = ("female", "male")
CHANNELS = ("staff", "web", "telegram", "whatsapp", "sms")
MAX_PHOTOS = 10
MAX_AGE = 120
# Field -> the most characters it may hold (the columns' sizes, or a sane bound for Text).
LIMITS = {
    "full_name": 200,
    "nicknames": 300,
    "description": 4000,
    "marks": 2000,
    "languages": 100,
    "dialect": 100,
    "last_seen_place": 300,
    "circumstances": 4000,
    "police_ref": 100,
    "contact": 300,
}
# Fields the public sees (page, poster, bot card): changing one makes a new poster.
PUBLIC_FIELDS = frozenset(
    {
        "kind",
        "full_name",
        "nicknames",
        "sex",
        "birth_date",
        "age_years",
        "description",
        "marks",
        "languages",
        "dialect",
        "last_seen_at",
        "last_seen_place",
        "last_seen_lat",
        "last_seen_lon",
        "circumstances",
    }
)
EDITABLE = PUBLIC_FIELDS | {"police_ref", "contact", "photos"}
_SOURCE_REF = re.compile(r"tg:[A-Za-z0-9_-]{1,190}|whatsapp:[0-9]{1,40}|quarantine:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class NewCasePhoto:
    """A photo to attach: "tg:<file_id>" from the bot, "whatsapp:<media id>" from WhatsApp or
    "quarantine:<sha256>" from the web."""

    source_ref: str
    age_note: str = ""
    kind: str = PHOTO  # or AGE_PROGRESSED (police or a forensic artist)
    age_months: int | None = None  # the age in the photo; None: unknown
    taken_on: date | None = None


@dataclass(frozen=True, slots=True)
class CaseDraft:
    """Everything a family or a moderator tells us about a person, before it is a case."""

    full_name: str
    kind: str = "missing"
    nicknames: str = ""
    sex: str | None = None
    birth_date: date | None = None
    age_years: int | None = None
    description: str = ""
    marks: str = ""
    languages: str = ""
    dialect: str = ""
    last_seen_at: datetime | None = None
    last_seen_place: str | None = None
    last_seen_lat: float | None = None
    last_seen_lon: float | None = None
    circumstances: str = ""
    police_ref: str | None = None
    contact: str = ""
    photos: tuple[NewCasePhoto, ...] = ()


class CaseProblem(InvalidInput):
    """A registration that cannot be accepted; `render` says why in the reader's language."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(self.render("en"))

    def render(self, language: str) -> str:
        """The message in a language (field names translated too)."""
        texts = Texts(language)
        values = dict(self.params)
        if "field" in values:
            values["field"] = texts(f"case.field.{values['field']}")
        return texts(f"case.problem.{self.code}", **values)


def _years_between(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _check_lengths(draft: CaseDraft) -> None:
    for field, limit in LIMITS.items():
        value = getattr(draft, field) or ""
        if len(value) > limit:
            raise CaseProblem("too_long", field=field, limit=limit)


def _check_age(draft: CaseDraft, now: datetime) -> None:
    if draft.age_years is not None and not 0 <= draft.age_years <= MAX_AGE:
        raise CaseProblem("age_range", max=MAX_AGE)
    if draft.birth_date is None:
        return
    if draft.birth_date > now.date():
        raise CaseProblem("birth_future")
    age_now = _years_between(draft.birth_date, now.date())
    if age_now > MAX_AGE:
        raise CaseProblem("birth_too_old", max=MAX_AGE)
    if draft.age_years is not None:
        on = (draft.last_seen_at or now).date()
        # Age is "at last seen"; allow a year either way for a rough date or age.
        if abs(_years_between(draft.birth_date, on) - draft.age_years) > 1:
            raise CaseProblem("age_mismatch")


def _check_place(draft: CaseDraft, now: datetime) -> None:
    if draft.last_seen_at is not None:
        if draft.last_seen_at.tzinfo is None:
            raise CaseProblem("seen_no_zone")
        if draft.last_seen_at > now:
            raise CaseProblem("seen_future")
    if (draft.last_seen_lat is None) != (draft.last_seen_lon is None):
        raise CaseProblem("point_half")
    if draft.last_seen_lat is not None:
        try:
            validate_point(draft.last_seen_lat, draft.last_seen_lon)
        except ValueError:
            raise CaseProblem("point_invalid") from None


def _check_photos(photos: tuple[NewCasePhoto, ...]) -> None:
    if len(photos) > MAX_PHOTOS:
        raise CaseProblem("too_many_photos", max=MAX_PHOTOS)
    for photo in photos:
        if _SOURCE_REF.fullmatch(photo.source_ref) is None:
            raise CaseProblem("photo_unreadable")
        if len(photo.age_note) > 100:
            raise CaseProblem("photo_note_long", limit=100)
        if photo.kind not in PHOTO_KINDS:
            raise CaseProblem("photo_kind")
        if photo.age_months is not None and not 0 <= photo.age_months <= MAX_AGE_MONTHS:
            raise CaseProblem("photo_age", max=MAX_AGE)


def validate_draft(draft: CaseDraft, *, now: datetime) -> None:
    """Raise InvalidInput with a message for the first problem; None when the draft is fine."""
    if draft.kind not in KINDS:
        raise CaseProblem("kind")
    if not draft.full_name.strip():
        raise CaseProblem("name_required")
    if draft.sex is not None and draft.sex not in SEXES:
        raise CaseProblem("sex")
    _check_lengths(draft)
    _check_age(draft, now)
    _check_place(draft, now)
    _check_photos(draft.photos)
    if any(p.taken_on is not None and p.taken_on > now.date() for p in draft.photos):
        raise CaseProblem("photo_taken_future")
    if draft.kind == "missing" and not draft.contact.strip():
        raise CaseProblem("contact_required")


def _clean(draft: CaseDraft) -> CaseDraft:
    return dataclasses.replace(
        draft,
        full_name=draft.full_name.strip(),
        contact=draft.contact.strip(),
        police_ref=(draft.police_ref or "").strip() or None,
        last_seen_place=(draft.last_seen_place or "").strip() or None,
    )


def _photo_rows(case_id: int, photos: tuple[NewCasePhoto, ...], start: int) -> list[CasePhoto]:
    return [
        CasePhoto(
            case_id=case_id,
            status="quarantined",
            source_ref=photo.source_ref,
            age_note=photo.age_note.strip(),
            kind=photo.kind,
            age_months=photo.age_months,
            taken_on=photo.taken_on,
            position=start + index,
        )
        for index, photo in enumerate(photos)
    ]


def _case_columns(draft: CaseDraft) -> dict[str, Any]:
    skip = {"contact", "photos"}
    return {f.name: getattr(draft, f.name) for f in dataclasses.fields(draft) if f.name not in skip}


async def submit_case(
    session: AsyncSession,
    *,
    draft: CaseDraft,
    vault: Vault,
    channel: str,
    source_key: str | None = None,
    tipster_id: int | None = None,
    staff_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    """Register a case ("submitted", private) with its photos in quarantine; commits.

    The same source_key twice returns the first case (a double tap or a refreshed form).
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if source_key is not None:
        existing = await session.scalar(select(Case).where(Case.source_key == source_key))
        if existing is not None:
            return existing
    now = now or utcnow()
    draft = _clean(draft)
    validate_draft(draft, now=now)
    case = await CaseRepository(session).add(
        Case(
            **_case_columns(draft),
            status="submitted",
            status_changed_at=now,
            channel=channel,
            source_key=source_key,
            submitted_by_tipster_id=tipster_id,
            submitted_by_staff_id=staff_id,
            contact_ciphertext=vault.seal({"contact": draft.contact}) if draft.contact else None,
        )
    )
    session.add_all(_photo_rows(case.id, draft.photos, 0))
    await session.flush()
    await refresh_matches(session, case=case)
    await session.commit()
    return case


def open_contact(case: Case, *, vault: Vault) -> str:
    """The family's contact in plain text (only for an authorised, audited view)."""
    if case.contact_ciphertext is None:
        return ""
    return str(vault.open(case.contact_ciphertext).get("contact", ""))


def _draft_of(case: Case, changes: dict[str, Any]) -> CaseDraft:
    names = [f.name for f in dataclasses.fields(CaseDraft) if f.name not in ("contact", "photos")]
    current = {name: getattr(case, name) for name in names}
    current.update({k: v for k, v in changes.items() if k not in ("contact", "photos")})
    # A stored contact is already checked; only a new one is validated.
    contact = changes.get("contact", "-" if case.contact_ciphertext else "")
    return _clean(CaseDraft(**current, contact=contact, photos=tuple(changes.get("photos", ()))))


async def _photo_count(session: AsyncSession, case: Case) -> tuple[int, int]:
    stmt = select(func.count(CasePhoto.id), func.max(CasePhoto.position)).where(
        CasePhoto.case_id == case.id, CasePhoto.status != "rejected"
    )
    count, last = (await session.execute(stmt)).one()
    return int(count or 0), -1 if last is None else int(last)


async def edit_case(
    session: AsyncSession,
    *,
    case: Case,
    changes: dict[str, Any],
    now: datetime | None = None,
    vault: Vault | None = None,
) -> list[str]:
    """Apply field changes (and added photos) to a case; returns the changed names; commits.

    A change to a public field or a new photo bumps poster_version, so posters are redrawn.
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidInput(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
    now = now or utcnow()
    draft = _draft_of(case, changes)
    validate_draft(draft, now=now)
    count, last = await _photo_count(session, case)
    if count + len(draft.photos) > MAX_PHOTOS:
        raise CaseProblem("too_many_photos", max=MAX_PHOTOS)
    changed = [
        name
        for name, value in _case_columns(draft).items()
        if name in changes and getattr(case, name) != value
    ]
    for name in changed:
        setattr(case, name, getattr(draft, name))
    if "contact" in changes:
        if vault is None:
            raise ValueError("changing the contact needs the vault")
        case.contact_ciphertext = vault.seal({"contact": draft.contact})
        changed.append("contact")
    if draft.photos:
        session.add_all(_photo_rows(case.id, draft.photos, last + 1))
        changed.append("photos")
    if any(name in PUBLIC_FIELDS or name == "photos" for name in changed):
        case.poster_version += 1
    await session.flush()
    if changed:
        await refresh_matches(session, case=case)
    if LAST_SEEN_FIELDS.intersection(changed):
        await mark_case_tips(session, case=case)  # travel and contradictions move with it
    await session.commit()
    return changed
