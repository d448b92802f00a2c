"""Reading a batch of found people (a shelter's list, a police list of unidentified people, a
DNA-database partner's export): CSV or JSON, plus an optional ZIP of photos. Pure parsing.

A file that cannot be read at all (not UTF-8, not CSV/JSON, wrong columns, a broken ZIP) is
refused whole with one message, and nothing is imported. Otherwise every row is checked on its
own: a bad row is reported by its line number with the reason, and the good rows go on.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Final

from core.cases.registry import CaseDraft, CaseProblem, validate_draft
from core.errors import InvalidInput
from core.photos.sniff import sniff
from core.tips.web_intake import MAX_PHOTO_BYTES

REQUIRED: Final = ("source_id", "full_name")
OPTIONAL: Final = (
    "nicknames",
    "sex",
    "birth_date",
    "age_years",
    "found_on",
    "found_place",
    "lat",
    "lon",
    "description",
    "marks",
    "languages",
    "photo",
    "photo_age_years",
)
COLUMNS: Final = REQUIRED + OPTIONAL
MAX_ROWS: Final = 100_000
MAX_ZIP_PHOTOS: Final = 100_000


@dataclass(frozen=True, slots=True)
class Row:
    """One found person from the file: where it was (line), its source id and the draft."""

    line: int
    source_id: str
    draft: CaseDraft
    photo: bytes | None = None
    photo_age_months: int | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was not imported, and why."""

    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """As kept on the import's record."""
        return {"line": self.line, "reason": self.reason}


@dataclass(slots=True)
class Batch:
    """What a file gave: rows to import and the rows refused."""

    rows: list[Row] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


class FileRefused(InvalidInput):
    """The file as a whole cannot be imported (nothing was)."""


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"the file is not UTF-8 text (a bad byte at position {exc.start}); "
            "save it as UTF-8 and import it again"
        ) from None


def _check_columns(found: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in found]
    unknown = [c for c in found if c not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise FileRefused(f"{'; '.join(parts)}. The columns are: {', '.join(COLUMNS)}")


def _records(data: bytes, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, fields) of each record: CSV lines (header is line 1) or JSON array items (from 1)."""
    text = _text(data)
    if name.lower().endswith(".json") or text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileRefused(f"the JSON is not valid at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise FileRefused("the JSON must be a list of objects, one per person")
        _check_columns(sorted({key for item in items for key in item}) or list(REQUIRED))
        yield from enumerate(items, start=1)
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _check_columns([c.strip() for c in reader.fieldnames or []])
    for record in reader:
        fields = {(k or "").strip(): v for k, v in record.items()}
        if None in record:
            yield reader.line_num, {"_extra": True, **fields}
        else:
            yield reader.line_num, fields


def _value(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value).strip()


def _date(fields: dict[str, Any], name: str) -> date | None:
    typed = _value(fields, name)
    if not typed:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        raise InvalidInput(f"{name} '{typed[:20]}' is not a date (YYYY-MM-DD)") from None


def _number(fields: dict[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    typed = _value(fields, name)
    if not typed:
        return None
    try:
        return kind(typed)
    except ValueError:
        raise InvalidInput(f"{name} '{typed[:20]}' is not a number") from None


def _draft(fields: dict[str, Any], *, now: datetime) -> CaseDraft:
    found_on = _date(fields, "found_on")
    sex = _value(fields, "sex").lower() or None
    draft = CaseDraft(
        kind="found",
        full_name=_value(fields, "full_name"),
        nicknames=_value(fields, "nicknames"),
        sex=sex,
        birth_date=_date(fields, "birth_date"),
        age_years=_number(fields, "age_years", int),
        description=_value(fields, "description"),
        marks=_value(fields, "marks"),
        languages=_value(fields, "languages"),
        last_seen_at=datetime.combine(found_on, time(12), tzinfo=UTC) if found_on else None,
        last_seen_place=_value(fields, "found_place") or None,
        last_seen_lat=_number(fields, "lat", float),
        last_seen_lon=_number(fields, "lon", float),
    )
    try:
        validate_draft(draft, now=now)
    except CaseProblem as problem:
        raise InvalidInput(problem.render("en")) from None
    return draft


def _photo(fields: dict[str, Any], photos: dict[str, bytes]) -> tuple[bytes | None, int | None]:
    name = _value(fields, "photo")
    if not name:
        return None, None
    data = photos.get(name)
    if data is None:
        raise InvalidInput(f"photo '{name[:80]}' is not in the ZIP of photos")
    if not data:
        raise InvalidInput(f"photo '{name[:80]}' is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    if sniff(data) is None:
        raise InvalidInput(f"photo '{name[:80]}' is not an image (JPEG, PNG, WebP or HEIC)")
    years = _number(fields, "photo_age_years", int)
    return data, None if years is None else years * 12


def _row(line: int, fields: dict[str, Any], photos: dict[str, bytes], now: datetime) -> Row:
    if fields.get("_extra"):
        raise InvalidInput("more values than columns")
    source_id = _value(fields, "source_id")
    if not source_id:
        raise InvalidInput("source_id is empty")
    if len(source_id) > 100:
        raise InvalidInput("source_id is longer than 100 characters")
    draft = _draft(fields, now=now)
    photo, age = _photo(fields, photos)
    return Row(line=line, source_id=source_id, draft=draft, photo=photo, photo_age_months=age)


def read_batch(data: bytes, *, name: str, photos: dict[str, bytes], now: datetime) -> Batch:
    """Rows and problems from a CSV or JSON file; FileRefused when it cannot be read at all."""
    batch = Batch()
    seen: dict[str, int] = {}
    for line, fields in _records(data, name):
        if len(batch.rows) + len(batch.problems) >= MAX_ROWS:
            raise FileRefused(f"more than {MAX_ROWS} people in one file; split it")
        try:
            row = _row(line, fields, photos, now)
            if row.source_id in seen:
                raise InvalidInput(
                    f"source_id {row.source_id} is also on line {seen[row.source_id]}"
                )
        except InvalidInput as problem:
            batch.problems.append(RowProblem(line, str(problem)))
            continue
        seen[row.source_id] = line
        batch.rows.append(row)
    return batch


def read_photos(data: bytes) -> dict[str, bytes]:
    """The photos of a ZIP by file name (folders ignored); FileRefused for a broken ZIP."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FileRefused("the photos file is not a ZIP archive") from None
    photos: dict[str, bytes] = {}
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_PHOTOS:
            raise FileRefused(f"more than {MAX_ZIP_PHOTOS} files in the ZIP")
        for member in members:
            # Judged by the size it claims and by what was read (a lying header reads short).
            name = member.filename.rsplit("/", 1)[-1]
            if member.file_size > MAX_PHOTO_BYTES:
                photos[name] = b""  # refused on its row, by name
                continue
            with archive.open(member) as handle:
                data = handle.read(MAX_PHOTO_BYTES + 1)
            photos[name] = data if len(data) <= MAX_PHOTO_BYTES else b""
    return photos
