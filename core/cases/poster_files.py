"""Posters of public cases as files: what goes on them, and a disk cache keyed by the case's
poster_version and a digest of everything printed (rendering takes a few hundred ms)."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import re
import tempfile
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.people import PublicPerson, get_page_case, get_person
from core.cases.posters import PosterData, render_poster
from core.geo import GeocodingService, distance_km
from storage.models import Case
from storage.photostore import PhotoNotFoundError, PhotoStore

LAYOUT = 1  # bump when the drawing changes, so cached posters are redrawn
NEAR_KM = 100.0
_CJK = re.compile(r"[\u3400-\u9fff]")
_CHINESE = ("chinese", "mandarin", "cantonese", "putonghua", "hokkien", "hakka", "wu ")


@dataclass(frozen=True, slots=True)
class PosterFiles:
    """A case's poster on disk."""

    png: Path
    pdf: Path


@dataclass(frozen=True, slots=True)
class _Place:
    country_code: str | None
    utc_offset: timedelta | None


def poster_languages(*, languages: str, dialect: str = "", in_china: bool) -> tuple[str, ...]:
    """English, plus Simplified Chinese when the case is in China or the child speaks Chinese."""
    spoken = f"{languages} {dialect} ".lower()
    chinese = in_china or bool(_CJK.search(spoken)) or any(word in spoken for word in _CHINESE)
    return ("en", "zh-Hans") if chinese else ("en",)


def bot_link(bot_username: str, ref: str) -> str:
    """The deep link that opens the bot on this case."""
    return f"https://t.me/{bot_username}?start=case_{ref}"


def web_link(base_url: str, ref: str) -> str:
    """The case's public page."""
    return f"{base_url.rstrip('/')}/people/{ref}"


async def _place_of(geocoder: GeocodingService, case: Case) -> _Place:
    """The country and UTC offset of the last-seen point, from the nearest city (offline)."""
    if case.last_seen_lat is None or case.last_seen_lon is None:
        return _Place(None, None)
    point = (case.last_seen_lat, case.last_seen_lon)
    nearest: Any = geocoder.reverse(point, exactly_one=True)
    if inspect.isawaitable(nearest):
        nearest = await nearest
    if nearest is None or distance_km(point, (nearest.latitude, nearest.longitude)) > NEAR_KM:
        return _Place(None, None)
    raw = nearest.raw if isinstance(nearest.raw, dict) else {}
    offset = None
    if raw.get("timezone") and case.last_seen_at is not None:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            offset = case.last_seen_at.astimezone(ZoneInfo(str(raw["timezone"]))).utcoffset()
    return _Place(str(raw.get("country_code") or "") or None, offset)


def _first_photo(person: PublicPerson, display: PhotoStore) -> bytes | None:
    for photo in person.photos:
        try:
            return display.get(photo.display_sha256)
        except (PhotoNotFoundError, ValueError):
            continue  # not on this machine's disk: try the next one
    return None


async def poster_data(
    session: AsyncSession,
    *,
    ref: str,
    geocoder: GeocodingService,
    display: PhotoStore,
    bot_username: str,
    base_url: str,
) -> tuple[PosterData, int] | None:
    """What the poster of a public case prints, and its poster_version; None if not public.

    Without a bot username (no bot, or getMe not answered yet) the QR code is the web page."""
    case = await get_page_case(session, ref=ref)
    person = await get_person(session, ref=ref) if case is not None else None
    if case is None or person is None or person.found:
        return None  # a found person needs no poster any more
    place = await _place_of(geocoder, case)
    in_china = place.country_code == "CN" or bool(_CJK.search(person.last_seen_place))
    data = PosterData(
        ref=person.ref,
        kind=person.kind,
        name=person.full_name,
        languages=poster_languages(
            languages=person.languages, dialect=person.dialect, in_china=in_china
        ),
        bot_link=bot_link(bot_username, person.ref) if bot_username else "",
        web_link=web_link(base_url, person.ref),
        nicknames=person.nicknames,
        age_years=person.age_years,
        sex=person.sex,
        last_seen_at=person.last_seen_at,
        utc_offset=place.utc_offset,
        last_seen_place=person.last_seen_place,
        marks=person.marks,
        description=person.description,
        photo=_first_photo(person, display),
    )
    return data, person.poster_version


def _digest(poster: PosterData) -> str:
    hasher = hashlib.sha256(f"layout {LAYOUT}".encode())
    for field in fields(poster):
        value = getattr(poster, field.name)
        hasher.update(f"\0{field.name}=".encode())
        hasher.update(value if isinstance(value, bytes) else repr(value).encode())
    return hasher.hexdigest()[:16]


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a reader never sees half a poster."""
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def cached_poster(
    *, directory: Path, poster: PosterData, version: int, font_path: Path
) -> PosterFiles:
    """The poster's files, drawn now unless this version and content is already on disk."""
    stem = f"{poster.ref}-v{version}-{_digest(poster)}"
    files = PosterFiles(png=directory / f"{stem}.png", pdf=directory / f"{stem}.pdf")
    if files.png.is_file() and files.pdf.is_file():
        return files
    png, pdf = render_poster(poster=poster, font_path=font_path)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(files.png, png)
    _write(files.pdf, pdf)
    for old in directory.glob(f"{poster.ref}-v*"):
        if old.stem != stem:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()  # an earlier version of this case's poster
    return files
