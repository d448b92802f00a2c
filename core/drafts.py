"""A tip in the making: what the tipster has told us so far, in any order."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

MAX_ATTACHMENTS = 10
MAX_TEXT = 4000
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

AttachmentKind = Literal["photo", "video", "voice", "document", "animation", "video_note"]
PlaceSource = Literal["pin", "venue", "live", "typed", "coords", "exif"]
WhenMode = Literal["now", "today", "day", "unknown"]


class Attachment(BaseModel):
    """A file the tipster sent; kept in quarantine until the photo worker has sanitised it."""

    kind: AttachmentKind
    source_ref: str
    unique_id: str = ""
    mime_type: str | None = None
    size: int | None = None
    name: str | None = None
    media_group_id: str | None = None


class DraftPlace(BaseModel):
    """Where the sighting was: a point, a typed place resolved offline, or both."""

    source: PlaceSource
    lat: float | None = None
    lon: float | None = None
    text: str | None = None
    label: str | None = None
    precision_m: float | None = None
    timezone: str | None = None


class Draft(BaseModel):
    """Everything a tip needs; each field may arrive at any step."""

    draft_id: str = Field(default_factory=lambda: secrets.token_hex(8))
    case_ref: str | None = None
    case_unknown: bool = False
    text: str = ""
    when: WhenMode | None = None
    seen_at: datetime | None = None
    place: DraftPlace | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    contact_allowed: bool = False

    def add_attachment(self, attachment: Attachment) -> bool:
        """Add a file unless it is a repeat or the draft is full; False when full."""
        if any(a.unique_id and a.unique_id == attachment.unique_id for a in self.attachments):
            return True
        if len(self.attachments) >= MAX_ATTACHMENTS:
            return False
        self.attachments.append(attachment)
        return True

    def add_text(self, text: str) -> None:
        """Append what was seen (several messages read as one account)."""
        text = text.strip()
        if not text:
            return
        combined = f"{self.text}\n{text}" if self.text else text
        self.text = combined[:MAX_TEXT]

    @property
    def is_submittable(self) -> bool:
        """A tip needs at least a description, a place or a photo to be worth a moderator's time."""
        return bool(self.text or self.place or self.attachments)
