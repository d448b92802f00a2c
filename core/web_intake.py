"""The public web form as the domain sees it: plain strings and bytes in, a Draft or problems out.

Problems are translation keys (web.error.*) with values, so the page can say what to fix in the
sender's language. Nothing here knows about HTTP.
"""

from __future__ import annotations

import inspect
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.drafts import MAX_ATTACHMENTS, MAX_TEXT, Attachment, Draft, DraftPlace, WhenMode
from core.geo import GeocodingService, distance_km, normalise, validate_point
from core.geo.gazetteer import DEFAULT_MIN_POPULATION
from core.geo.sources import cities_file
from core.photos.sniff import describe_refused, sniff
from storage.photostore import PhotoStore
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
_CITY_ZONE = re.compile(r'"geonameid": (\d+),|"timezone": "([^"]*)"')
_FUTURE_SLACK = timedelta(minutes=10)
# Namesakes are worth a question when the smaller has at least this share of the larger's people.
_NAMESAKE_SHARE = 0.1


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


def quarantine(store: PhotoStore, photos: Iterable[Upload]) -> list[Attachment]:
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


async def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    result = func(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


async def _resolve_place(
    form: ReportForm, *, geocoder: GeocodingService, problems: list[Problem]
) -> Intake:
    intake = Intake(draft=None, problems=problems)
    typed = clean(form.place)
    if len(typed) > MAX_PLACE_CHARS:
        problems.append(Problem("web.error.place_too_long", {"limit": MAX_PLACE_CHARS}))
        return intake
    point = _point(form.lat, form.lon, problems)
    if point is not None:
        nearest = await _call(geocoder.reverse, point, exactly_one=True)
        zone = zone_for(nearest.raw, *point) if nearest else None
        place = DraftPlace(source="coords", lat=point[0], lon=point[1], text=typed or None)
        intake.place, intake.zone = place, zone
    elif typed and not any(p.key.startswith("web.error.coords") for p in problems):
        await _geocode(typed, form.place_choice, geocoder=geocoder, intake=intake)
    return intake


async def _geocode(typed: str, choice: str, *, geocoder: GeocodingService, intake: Intake) -> None:
    found = await _call(geocoder.geocode, typed, exactly_one=False, limit=5) or []
    candidates = list({location.address: location for location in found}.values())
    chosen = next((c for c in candidates if c.address == choice), None)
    if chosen is None and choice != AS_TYPED and _ambiguous(candidates):
        intake.choices = [c.address for c in candidates]
        return
    if chosen is None and candidates and choice != AS_TYPED:
        chosen = candidates[0]
    if chosen is None:
        intake.place = DraftPlace(source="typed", text=typed)
        return
    zone = zone_for(chosen.raw, chosen.latitude, chosen.longitude)
    place = DraftPlace(
        source="typed",
        text=typed,
        label=chosen.address,
        lat=chosen.latitude,
        lon=chosen.longitude,
        precision_m=float(chosen.raw.get("precision_km") or 0) * 1000 or None,
        timezone=zone,
    )
    intake.place, intake.zone = place, zone


def _ambiguous(candidates: list[Any]) -> bool:
    if len(candidates) < 2:
        return False
    top = candidates[0].raw
    name = normalise(str(top.get("name", "")))
    floor = int(top.get("population") or 0) * _NAMESAKE_SHARE
    return any(
        normalise(str(other.raw.get("name", ""))) == name
        and int(other.raw.get("population") or 0) >= floor
        for other in candidates[1:]
    )


def _point(lat: str, lon: str, problems: list[Problem]) -> tuple[float, float] | None:
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


def zone_for(raw: dict[str, Any], lat: float, lon: float) -> str | None:
    """The IANA zone of a geocoded place: its city's, else its country's nearest, else None."""
    city_zone = _city_zones().get(int(raw.get("geonameid") or 0))
    if city_zone and _zone_exists(city_zone):
        return city_zone
    zones = _zones().get(str(raw.get("country_code") or "").upper(), [])
    if not zones:
        return None
    return min(zones, key=lambda zone: distance_km((lat, lon), zone[1]))[0]


@lru_cache(maxsize=1)
def _city_zones() -> dict[int, str]:
    # A scan of the bundled city file for two keys: ~0.1 s once, versus seconds for full JSON.
    text = cities_file(DEFAULT_MIN_POPULATION).read_text(encoding="utf-8")
    zones: dict[int, str] = {}
    current: int | None = None
    for match in _CITY_ZONE.finditer(text):
        if match.group(1):
            current = int(match.group(1))
        elif current is not None:
            zones[current] = match.group(2)
            current = None
    return zones


@lru_cache(maxsize=1)
def _zones() -> dict[str, list[tuple[str, tuple[float, float]]]]:
    # The system's tz database lists each zone's country and principal city; no extra dependency.
    for root in zoneinfo.TZPATH:
        table = Path(root) / "zone.tab"
        if table.is_file():
            return _read_zone_tab(table.read_text(encoding="utf-8"))
    return {}


def _read_zone_tab(text: str) -> dict[str, list[tuple[str, tuple[float, float]]]]:
    zones: dict[str, list[tuple[str, tuple[float, float]]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 3:
            continue
        coordinates = re.fullmatch(r"([+-]\d+)([+-]\d+)", parts[1])
        if coordinates is None or not _zone_exists(parts[2]):
            continue
        point = (_degrees(coordinates.group(1), 2), _degrees(coordinates.group(2), 3))
        zones.setdefault(parts[0], []).append((parts[2], point))
    return zones


def _degrees(text: str, width: int) -> float:
    sign = -1.0 if text[0] == "-" else 1.0
    digits = text[1:]
    value = int(digits[:width]) + int(digits[width : width + 2]) / 60
    if len(digits) > width + 2:
        value += int(digits[width + 2 :]) / 3600
    return math.copysign(value, sign)


def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
