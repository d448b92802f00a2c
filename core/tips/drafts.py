"""A tip in the making: what the tipster has told us so far, in any order."""

from __future__ import annotations

import re
import secrets
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, Field

MAX_ATTACHMENTS = 10
MAX_TEXT = 4000
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

AttachmentKind = Literal["photo", "video", "voice", "document", "animation", "video_note"]
PlaceSource = Literal["pin", "venue", "live", "typed", "coords", "exif"]
WhenMode = Literal["now", "today", "day", "unknown"]
SeenOutcome = Literal["ok", "unreadable", "future", "need_date"]
"""A typed seen time was taken, not understood, in the future, or a time without its day."""

FUTURE_SLACK = timedelta(minutes=10)
NO_ZONE_SLACK = timedelta(hours=14)
"""Without the place's zone a local time may be up to 14 hours ahead of UTC (UTC+14)."""
EARLIEST_YEAR = 2000
NO_YEAR = 4
"""The year of a parsed day whose year was not given (a leap year, so 29/02 parses)."""
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATES = (
    re.compile(r"(?<![\d:])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d:])"),
    # With dots only when the year is there too: "14.30" is a time.
    re.compile(r"(?<![\d:.])(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})(?![\d:])"),
)
_CJK_DATE = re.compile(r"(?:(\d{4})\s*年)?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")
_CLOCK = re.compile(r"(\d{1,2})\s*[:：.]\s*(\d{2})\s*(am|pm|a\.m\.|p\.m\.)?", re.IGNORECASE)
_HOUR_12 = re.compile(r"(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)", re.IGNORECASE)
_FILLER = re.compile(
    r"\b(?:at|on|around|about|approx|ca|today)\b|[\s,;@~.]|大约|大概|左右|约|在|于|今天",
    re.IGNORECASE,
)
_CJK_CLOCK = re.compile(r"(上午|下午|晚上)?\s*(\d{1,2})\s*[点點时時](?:\s*(半|\d{1,2})\s*分?)?")


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
    label_zh: str | None = None  # the label in Chinese, for Chinese readers (core/tips/places.py)
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
    seen_date: date | None = None
    """The local day the tipster gave ("another day"); None for today or unknown."""
    seen_time: time | None = None
    """The local clock time the tipster gave; converted with the place's zone into seen_at."""

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
        self.append_text(text)

    def append_text(self, text: str) -> bool:
        """Append what was seen; False when it had to be cut at MAX_TEXT characters."""
        text = text.strip()
        if not text:
            return True
        combined = f"{self.text}\n{text}" if self.text else text
        self.text = combined[:MAX_TEXT]
        return len(combined) <= MAX_TEXT

    def set_place(self, place: DraftPlace | None, *, now: datetime) -> None:
        """Set where; a local seen time is re-read in the new place's time zone."""
        self.place = place
        self.resolve_seen_at(now=now)

    def set_seen_now(self, *, now: datetime) -> None:
        """The sighting is happening now."""
        self.when, self.seen_at, self.seen_date, self.seen_time = "now", now, None, None

    def set_seen_unknown(self) -> None:
        """The tipster does not know, or skipped, when."""
        self.when, self.seen_at, self.seen_date, self.seen_time = "unknown", None, None, None

    def set_seen_from_text(
        self, text: str, *, now: datetime, need_date: bool = False
    ) -> SeenOutcome:
        """Take a typed local time ("14:30", "20/11 14:30", "2026-11-20", "11月20日 下午3点")."""
        parsed = parse_seen(text)
        if parsed is None:
            return "unreadable"
        day, clock = parsed
        if day is None and need_date:
            return "need_date"
        if day is not None and day.year == NO_YEAR:  # this year, or last year if still ahead
            day = _without_year(day, now.astimezone(self.zone or UTC).date())
            if day is None:
                return "unreadable"
        trial = self.model_copy()
        trial.when, trial.seen_date, trial.seen_time = ("day" if day else "today"), day, clock
        trial.resolve_seen_at(now=now)
        slack = FUTURE_SLACK if self.zone else NO_ZONE_SLACK
        if trial.seen_at is None or trial.seen_at > now + slack:
            return "future"
        if trial.seen_at.year < EARLIEST_YEAR:
            return "unreadable"
        self.when, self.seen_date, self.seen_time, self.seen_at = (
            trial.when,
            trial.seen_date,
            trial.seen_time,
            trial.seen_at,
        )
        return "ok"

    @property
    def zone(self) -> tzinfo | None:
        """The place's time zone, when the place is known well enough to have one."""
        name = self.place.timezone if self.place else None
        if not name:
            return None
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None

    def resolve_seen_at(self, *, now: datetime) -> None:
        """Turn the local day and time into seen_at (UTC) with the place's zone, else as UTC."""
        if self.when not in ("today", "day"):
            return
        zone = self.zone or UTC
        day = self.seen_date if self.when == "day" else now.astimezone(zone).date()
        if day is None:
            return
        local = datetime.combine(day, self.seen_time or time(12, 0), tzinfo=zone)
        self.seen_at = local.astimezone(UTC)

    @property
    def is_submittable(self) -> bool:
        """A tip needs at least a description, a place or a photo to be worth a moderator's time."""
        return bool(self.text or self.place or self.attachments)


def _without_year(day: date, today: date) -> date | None:
    for year in (today.year, today.year - 1):
        candidate = _make_date(year, day.month, day.day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _find_date(text: str) -> tuple[date | None, str]:
    """A date in the text (year NO_YEAR when none was given) and the text without it."""
    if found := _ISO_DATE.search(text):
        year, month, day = (int(part) for part in found.groups())
        return _make_date(year, month, day), text[: found.start()] + text[found.end() :]
    if found := _CJK_DATE.search(text):
        year = int(found.group(1)) if found.group(1) else NO_YEAR
        day_of = _make_date(year, int(found.group(2)), int(found.group(3)))
        return day_of, text[: found.start()] + text[found.end() :]
    for pattern in _SLASH_DATES:
        if found := pattern.search(text):
            first, second = int(found.group(1)), int(found.group(2))
            year = int(found.group(3)) if found.group(3) else NO_YEAR
            year = year + 2000 if found.group(3) and year < 100 else year
            # Day first ("20/11"), as most of the world writes it; "11/20" can only be month first.
            day_of = _make_date(year, second, first) or _make_date(year, first, second)
            if day_of is not None:
                return day_of, text[: found.start()] + text[found.end() :]
    return None, text


def _hour(hour: int, marker: str | None) -> int:
    marker = (marker or "").lower().replace(".", "")
    if marker in ("pm", "下午", "晚上") and hour < 12:
        return hour + 12
    if marker == "am" and hour == 12:
        return 0
    return hour


def _find_time(text: str) -> time | Literal[False] | None:
    """The clock time in the text; None when there is none, False when it is not a real time."""
    hour: int | None = None
    minute = 0
    if found := _CLOCK.search(text):
        hour, minute = _hour(int(found.group(1)), found.group(3)), int(found.group(2))
    elif found := _CJK_CLOCK.search(text):
        half = found.group(3)
        minute = 30 if half == "半" else int(half or 0)
        hour = _hour(int(found.group(2)), found.group(1))
    elif found := _HOUR_12.search(text):
        hour = _hour(int(found.group(1)), found.group(2))
    if hour is None:
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return False
    return time(hour, minute)


def parse_seen(text: str) -> tuple[date | None, time | None] | None:
    """(local day or None, local time or None) from a typed moment; None when unreadable.

    A day without a year comes back in year NO_YEAR, for the caller to place in the right year.
    """
    cleaned = " ".join(text.split())[:100]
    day, rest = _find_date(cleaned)
    if day is None and rest != cleaned:
        return None  # looked like a date but is not one (31/02)
    clock = _find_time(rest)
    if clock is False or (day is None and clock is None):
        return None
    if _FILLER.sub("", _strip_time(rest)):  # "sometime last week 3pm" is not a moment we can store
        return None
    return day, clock or None


def _strip_time(text: str) -> str:
    for pattern in (_CLOCK, _CJK_CLOCK, _HOUR_12):
        if found := pattern.search(text):
            return text[: found.start()] + text[found.end() :]
    return text
