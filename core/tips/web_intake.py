"""The public web form as the domain sees it: plain strings and bytes in, a Draft or problems out.

Problems are translation keys (web.error.*) with values, so the page can say what to fix in the
sender's language. Nothing here knows about HTTP.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from core.geo import GeocodingService, validate_point
from core.photos.sniff import describe_refused, sniff
from core.tips.drafts import MAX_ATTACHMENTS, MAX_TEXT, Attachment, Draft, DraftPlace, WhenMode
from core.tips.places import place_at, resolve_typed, typed_as_given
from storage.photostore import MediaStore
from storage.refs import ALPHABET, normalise_ref
from storage.types import utcnow

MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_PLACE_CHARS = 200
WHEN_MODES: tuple[WhenMode, ...] = ("now", "today", "day", "unknown")
AS_TYPED = "as-typed"
"""The "Did you mean…?" answer that keeps the typed place unresolved."""

_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}
_CASE_CODE = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_PAIR = re.compile(rf"\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FUTURE_SLACK = timedelta(minutes=10)
# Namesakes are worth a question when the smaller has at least this share of the larger's people.


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the sender must fix: a translation key and the values it mentions."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportForm:
    """What the web form sent, as the strings it sent them."""

    text: str = ""
    when: str = ""
    time: str = ""
    date: str = ""
    place: str = ""
    place_choice: str = ""
    lat: str = ""
    lon: str = ""
    case: str = ""


@dataclass(frozen=True, slots=True)
class Upload:
    """One file from the form; its name is for messages to the sender only and is never stored."""

    name: str
    data: bytes
    size: int


@dataclass(slots=True)
class Intake:
    """The outcome of reading a form: a Draft to submit, or problems and place choices to show."""

    draft: Draft | None
    problems: list[Problem]
    choices: list[str] = field(default_factory=list)
    zone: str | None = None
    place: DraftPlace | None = None


def clean(text: str) -> str:
    """Plain text as a person typed it: LF line ends, no control characters, trimmed."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def judge_photos(
    uploads: Iterable[Upload], *, already: int = 0
) -> tuple[list[Upload], list[Problem]]:
    """Split uploads into acceptable photos (judged by their bytes) and problems naming the file."""
    uploads = list(uploads)
    if already + len(uploads) > MAX_ATTACHMENTS:
        count = already + len(uploads)
        return [], [
            Problem("web.error.too_many_photos", {"limit": MAX_ATTACHMENTS, "count": count})
        ]
    accepted: list[Upload] = []
    problems: list[Problem] = []
    for upload in uploads:
        if upload.size > MAX_PHOTO_BYTES:
            values = {"name": upload.name, "limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)}
            problems.append(Problem("web.error.photo_too_large", values))
        elif sniff(upload.data) is not None:
            accepted.append(upload)
        elif kind := describe_refused(upload.data):
            problems.append(Problem("web.error.photo_type", {"name": upload.name, "kind": kind}))
        else:
            problems.append(Problem("web.error.photo_unknown", {"name": upload.name}))
    return accepted, problems


def quarantine(store: MediaStore, photos: Iterable[Upload]) -> list[Attachment]:
    """Put accepted photo bytes into the quarantine store; the attachments keep no file name."""
    attachments = []
    for photo in photos:
        sha = store.put(photo.data)
        kind = sniff(photo.data)
        mime = _MIME[kind] if kind else None
        attachments.append(attachment(sha=sha, mime_type=mime, size=len(photo.data)))
    return attachments


def attachment(*, sha: str, mime_type: str | None, size: int) -> Attachment:
    """The draft's record of a quarantined photo."""
    return Attachment(kind="photo", source_ref=f"quarantine:{sha}", mime_type=mime_type, size=size)


async def prepare_draft(
    form: ReportForm,
    *,
    geocoder: GeocodingService,
    attachments: list[Attachment],
    now: datetime | None = None,
) -> Intake:
    """Validate a form into a Draft, resolving its place offline; problems say what to fix."""
    now = now or utcnow()
    problems: list[Problem] = []
    text = clean(form.text)
    if len(text) > MAX_TEXT:
        problems.append(
            Problem("web.error.text_too_long", {"length": len(text), "limit": MAX_TEXT})
        )
    case_ref = _case_ref(form.case, problems)
    intake = await _resolve_place(form, geocoder=geocoder, problems=problems)
    when, seen_at = _seen_at(form, zone=intake.zone, now=now, problems=problems)
    where_given = clean(form.place) or form.lat.strip() or form.lon.strip()
    if not (text or where_given or attachments):
        problems.append(Problem("web.error.text_required"))
    if problems or intake.choices:
        return intake
    intake.draft = Draft(
        case_ref=case_ref,
        case_unknown=case_ref is None,
        text=text,
        when=when,
        seen_at=seen_at,
        place=intake.place,
        attachments=attachments,
    )
    return intake


def _case_ref(typed: str, problems: list[Problem]) -> str | None:
    code = clean(typed)
    if not code:
        return None
    ref = normalise_ref(code)
    if _CASE_CODE.fullmatch(ref) is None:
        problems.append(Problem("web.error.case", {"code": code[:40]}))
        return None
    return ref


async def _resolve_place(
    form: ReportForm, *, geocoder: GeocodingService, problems: list[Problem]
) -> Intake:
    intake = Intake(draft=None, problems=problems)
    typed = clean(form.place)
    if len(typed) > MAX_PLACE_CHARS:
        problems.append(Problem("web.error.place_too_long", {"limit": MAX_PLACE_CHARS}))
        return intake
    point = read_point(form.lat, form.lon, problems)
    if point is not None:
        place = await place_at(
            geocoder, lat=point[0], lon=point[1], source="coords", text=typed or None
        )
        intake.place, intake.zone = place, place.timezone
    elif typed and not any(p.key.startswith("web.error.coords") for p in problems):
        await _geocode(typed, form.place_choice, geocoder=geocoder, intake=intake)
    return intake


async def _geocode(typed: str, choice: str, *, geocoder: GeocodingService, intake: Intake) -> None:
    """The same offline resolution as the bot's (core.tips.places): ask which when ambiguous."""
    found = await resolve_typed(geocoder, typed)
    chosen = next((c for c in found.choices if c.label == choice), None)
    if chosen is None and choice != AS_TYPED:
        if found.ambiguous:
            intake.choices = [str(c.label) for c in found.choices]
            return
        chosen = found.best
    place = chosen or typed_as_given(typed)
    intake.place, intake.zone = place, place.timezone


def read_point(lat: str, lon: str, problems: list[Problem]) -> tuple[float, float] | None:
    """A position typed or filled in as decimal degrees (a pair pasted into the first box works);
    None, with the problem added, when it is not one; None alone when neither was given."""
    lat, lon = lat.strip(), lon.strip()
    if lat and not lon and (pair := _PAIR.fullmatch(lat)):
        lat, lon = pair.group(1), pair.group(2)  # "31.2304, 121.4737" pasted into one box
    if not lat and not lon:
        return None
    if not (lat and lon):
        problems.append(Problem("web.error.coords_pair"))
        return None
    try:
        point = validate_point(float(lat), float(lon))
    except ValueError:
        point = None
    if point is None or point == (0.0, 0.0):  # 0, 0 is a failed GPS fix, not a sighting
        problems.append(Problem("web.error.coords", {"lat": lat[:20], "lon": lon[:20]}))
        return None
    return point


def _seen_at(
    form: ReportForm, *, zone: str | None, now: datetime, problems: list[Problem]
) -> tuple[WhenMode | None, datetime | None]:
    # No choice made: the date or time typed says which it was.
    typed = form.when.strip() or ("day" if form.date else "today" if form.time else "unknown")
    mode = next((m for m in WHEN_MODES if m == typed), None)
    if mode is None:
        problems.append(Problem("web.error.when"))
        return None, None
    if mode in ("now", "unknown"):
        return mode, now if mode == "now" else None
    tz = zoneinfo.ZoneInfo(zone) if zone else zoneinfo.ZoneInfo("UTC")
    at = _clock(form.time, required=mode == "today", problems=problems)
    day = now.astimezone(tz).date() if mode == "today" else _day(form.date, problems)
    if at is None or day is None:
        return mode, None
    seen = datetime.combine(day, at, tzinfo=tz).astimezone(now.tzinfo)
    if seen > now + _FUTURE_SLACK:
        problems.append(Problem("web.error.future"))
        return mode, None
    return mode, seen


def _clock(typed: str, *, required: bool, problems: list[Problem]) -> time | None:
    typed = typed.strip()
    if not typed:
        if required:
            problems.append(Problem("web.error.time_needed"))
            return None
        return time(12, 0)  # a day without a time: midday, and the precision says "day"
    try:
        return time.fromisoformat(typed).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        problems.append(Problem("web.error.time"))
        return None


def _day(typed: str, problems: list[Problem]) -> date | None:
    typed = typed.strip()
    if not typed:
        problems.append(Problem("web.error.date_needed"))
        return None
    try:
        day = date.fromisoformat(typed)
    except ValueError:
        day = None
    if day is None or day.year < 1900:
        problems.append(Problem("web.error.date"))
        return None
    return day
