"""What /newcase remembers between updates (in the FSM data), and how typed answers are read."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Literal

from aiogram.fsm.context import FSMContext
from pydantic import BaseModel, Field, ValidationError

from core.case_contacts import hold_contact, is_sealed, open_held
from core.case_registry import LIMITS, MAX_AGE, MAX_PHOTOS, CaseDraft, NewCasePhoto
from core.drafts import Draft, DraftPlace
from core.photo_ages import age_from_note
from core.vault import Vault

DATA_KEY = "newcase"
EARLIEST_BIRTH_YEAR = 1900
AGE_NOTE_LIMIT = 100
_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?")
_AGE = re.compile(r"(\d{1,3})\s*(?:岁|歲|周岁|years?(?:\s*old)?|yrs?|y)?", re.IGNORECASE)
_SPLIT = re.compile(r"[;；\n]")

BornOutcome = Literal["ok", "unreadable", "impossible", "future", "too_old"]
TextOutcome = Literal["ok", "too_long", "empty", "no_letters"]


class CasePhotoRef(BaseModel):
    """A photo sent in the chat: its Telegram file and an optional note ("age 3")."""

    source_ref: str
    unique_id: str = ""
    age_note: str = ""


class CaseTalk(BaseModel):
    """The case in the making and the short-lived choices on screen."""

    draft_id: str = Field(default_factory=lambda: secrets.token_hex(8))
    kind: Literal["missing", "found"] = "missing"
    full_name: str = ""
    nicknames: str = ""
    sex: Literal["female", "male"] | None = None
    birth_date: date | None = None
    age_years: int | None = None
    marks: str = ""
    languages: str = ""
    dialect: str = ""
    seen: Draft = Field(default_factory=Draft)
    circumstances: str = ""
    police_ref: str | None = None
    contact: str = ""
    """Sealed by the vault as soon as it is given (core.case_contacts): never plain at rest."""
    contact_hint: str = ""
    photos: list[CasePhotoRef] = Field(default_factory=list)
    album: str | None = None
    places: list[DraftPlace] = Field(default_factory=list)
    typed_place: str | None = None
    resume: str | None = None
    """The report step left for /newcase, to go back to afterwards."""
    last_draft: str | None = None
    last_ref: str | None = None

    def add_photo(self, photo: CasePhotoRef) -> bool:
        """Add a photo unless it is a repeat; False when there are already MAX_PHOTOS."""
        if any(p.unique_id and p.unique_id == photo.unique_id for p in self.photos):
            return True
        if len(self.photos) >= MAX_PHOTOS:
            return False
        self.photos.append(photo)
        return True

    def seal_contact(self, vault: Vault) -> None:
        """Replace a contact just given with its sealed token and hint (before it is stored)."""
        if self.contact and not is_sealed(self.contact):
            held = hold_contact(vault, self.contact)
            self.contact, self.contact_hint = held.sealed, held.hint

    def shown_contact(self) -> str:
        """What the summary shows of the contact: its hint once sealed."""
        return self.contact_hint if is_sealed(self.contact) else self.contact

    def to_draft(self, *, now: datetime, vault: Vault) -> CaseDraft:
        """The registry's draft (a seen time read as a little ahead of now is now)."""
        place = self.seen.place
        seen_at = self.seen.seen_at
        label = (place.label or place.text) if place is not None else None
        return CaseDraft(
            full_name=self.full_name,
            kind=self.kind,
            nicknames=self.nicknames,
            sex=self.sex,
            birth_date=self.birth_date,
            age_years=self.age_years,
            marks=self.marks,
            languages=self.languages,
            dialect=self.dialect,
            last_seen_at=min(seen_at, now) if seen_at is not None else None,
            last_seen_place=label[: LIMITS["last_seen_place"]] if label else None,
            last_seen_lat=place.lat if place is not None else None,
            last_seen_lon=place.lon if place is not None else None,
            circumstances=self.circumstances,
            police_ref=self.police_ref,
            contact=open_held(vault, self.contact),
            photos=tuple(
                NewCasePhoto(p.source_ref, p.age_note, age_months=age_from_note(p.age_note))
                for p in self.photos
            ),
        )


async def load_case(state: FSMContext) -> CaseTalk | None:
    """The case in the making, or None (none started, or what is stored no longer parses)."""
    raw = (await state.get_data()).get(DATA_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return CaseTalk.model_validate(raw)
    except ValidationError:
        return None


async def save_case(state: FSMContext, talk: CaseTalk | None) -> None:
    """Store it next to the report's own data (a report left for /newcase is kept)."""
    await state.update_data({DATA_KEY: talk.model_dump(mode="json") if talk else None})


def check_text(text: str, field: str, *, name: bool = False) -> TextOutcome:
    """Whether a typed answer fits its column (and, for a name, reads as one)."""
    cleaned = text.strip()
    if not cleaned:
        return "empty"
    if len(cleaned) > LIMITS[field]:
        return "too_long"
    if name and not any(ch.isalpha() for ch in cleaned):
        return "no_letters"
    return "ok"


def read_born(text: str, *, today: date) -> tuple[BornOutcome, date | None, int | None]:
    """A birth date ("2019-05-04", "2019年5月4日") or an age in years ("5", "5岁")."""
    cleaned = " ".join(text.split())[:40]
    if found := _ISO.fullmatch(cleaned):
        year, month, day = (int(part) for part in found.groups())
        try:
            born = date(year, month, day)
        except ValueError:
            return "impossible", None, None
        if born > today:
            return "future", None, None
        if year < EARLIEST_BIRTH_YEAR or today.year - year > MAX_AGE + 1:
            return "too_old", None, None
        return "ok", born, None
    if found := _AGE.fullmatch(cleaned):
        years = int(found.group(1))
        return ("ok", None, years) if years <= MAX_AGE else ("too_old", None, None)
    return "unreadable", None, None


def split_languages(text: str) -> tuple[str, str]:
    """ "Mandarin, Cantonese; Sichuan dialect" -> languages, dialect."""
    parts = _SPLIT.split(text.strip(), maxsplit=1)
    languages = parts[0].strip()
    dialect = parts[1].strip() if len(parts) > 1 else ""
    return languages, dialect
