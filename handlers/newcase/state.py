"""What /newcase remembers between updates (under the "newcase" key of the chat's data)."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.cases.contacts import hold_contact, is_sealed, open_held
from core.cases.photo_ages import age_from_note
from core.cases.registry import LIMITS, MAX_PHOTOS, CaseDraft, NewCasePhoto
from core.identity.vault import Vault
from core.tips.drafts import Draft
from handlers.common.where import Choosing
from handlers.engine.wizard import Sent

AGE_NOTE_LIMIT = 100


class CasePhotoRef(BaseModel):
    """A photo sent in the chat: its file (tg:<file id>, whatsapp:<media id>) and an optional
    note ("age 3")."""

    source_ref: str
    unique_id: str = ""
    age_note: str = ""


class CaseTalk(Sent, Choosing):
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
    """Sealed by the vault as soon as it is given (core.cases.contacts): never plain at rest."""
    contact_hint: str = ""
    photos: list[CasePhotoRef] = Field(default_factory=list)
    album: str | None = None
    resume: str | None = None
    """The report step left for /newcase, to go back to afterwards."""

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
