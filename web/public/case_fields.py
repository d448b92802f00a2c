"""A case form's fields as typed (strings) and read into CaseDraft values, with problems as keys.

Shared by the families' form (/people/new) and the dashboard's create and edit pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from core.cases.photo_ages import parse_age
from core.errors import InvalidInput
from core.tips.web_intake import Problem, clean
from storage.models import Case

TEXTS = (
    "full_name",
    "nicknames",
    "description",
    "marks",
    "languages",
    "dialect",
    "last_seen_place",
    "circumstances",
    "police_ref",
    "contact",
)


@dataclass(frozen=True, slots=True)
class CaseForm:
    """What a case form sent, as the strings it sent them."""

    kind: str = "missing"
    full_name: str = ""
    nicknames: str = ""
    sex: str = ""
    birth_date: str = ""
    age_years: str = ""
    description: str = ""
    marks: str = ""
    languages: str = ""
    dialect: str = ""
    last_seen_date: str = ""
    last_seen_time: str = ""
    last_seen_place: str = ""
    lat: str = ""
    lon: str = ""
    circumstances: str = ""
    police_ref: str = ""
    contact: str = ""
    # The age in the photos sent with the form (required when photos are sent).
    photo_age_years: str = ""
    photo_age_months: str = ""
    photo_age_unknown: str = ""
    photo_taken_on: str = ""

    @classmethod
    def read(cls, get: Callable[[str], str]) -> CaseForm:
        """The form's fields from a getter of posted values."""
        return cls(**{f.name: get(f.name) or "" for f in dataclasses.fields(cls)})

    @classmethod
    def of_case(cls, case: Case) -> CaseForm:
        """A case's stored values as an edit form shows them (the contact stays sealed)."""
        seen = case.last_seen_at.astimezone(UTC) if case.last_seen_at else None
        return cls(
            **{name: getattr(case, name) or "" for name in TEXTS if name != "contact"},
            kind=case.kind,
            sex=case.sex or "",
            birth_date=case.birth_date.isoformat() if case.birth_date else "",
            age_years="" if case.age_years is None else str(case.age_years),
            last_seen_date=f"{seen:%Y-%m-%d}" if seen else "",
            last_seen_time=f"{seen:%H:%M}" if seen else "",
            lat="" if case.last_seen_lat is None else str(case.last_seen_lat),
            lon="" if case.last_seen_lon is None else str(case.last_seen_lon),
        )


def _date(typed: str, key: str, problems: list[Problem]) -> date | None:
    typed = typed.strip()
    if not typed:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        problems.append(Problem(key, {"typed": typed[:20]}))
        return None


def _age(typed: str, problems: list[Problem]) -> int | None:
    typed = typed.strip()
    if not typed:
        return None
    if not typed.isdigit() or len(typed) > 3:
        problems.append(Problem("cases.form.error.age", {"typed": typed[:10]}))
        return None
    return int(typed)


def _last_seen(form: CaseForm, zone: str | None, problems: list[Problem]) -> datetime | None:
    day = _date(form.last_seen_date, "cases.form.error.date", problems)
    typed = form.last_seen_time.strip()
    try:
        at = time.fromisoformat(typed) if typed else time(12, 0)
    except ValueError:
        problems.append(Problem("cases.form.error.time", {"typed": typed[:10]}))
        return None
    if day is None:
        return None
    local = datetime.combine(day, at, tzinfo=ZoneInfo(zone) if zone else UTC)
    return local.astimezone(UTC)


def _point(form: CaseForm, problems: list[Problem]) -> tuple[float | None, float | None]:
    lat, lon = form.lat.strip(), form.lon.strip()
    if not lat and not lon:
        return None, None
    try:
        return float(lat), float(lon)
    except ValueError:
        problems.append(Problem("cases.form.error.coords"))
        return None, None


def read_case_form(
    form: CaseForm, *, zone: str | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """CaseDraft values from a form, and what to fix; times are read in `zone` (else UTC)."""
    problems: list[Problem] = []
    values: dict[str, Any] = {name: clean(getattr(form, name)) for name in TEXTS}
    values["police_ref"] = values["police_ref"] or None
    values["last_seen_place"] = values["last_seen_place"] or None
    if form.kind not in ("missing", "found"):
        problems.append(Problem("cases.form.error.kind"))
    if not values["full_name"]:
        problems.append(Problem("cases.form.error.name"))
    values["kind"] = form.kind
    values["sex"] = form.sex if form.sex in ("female", "male") else None
    values["birth_date"] = _date(form.birth_date, "cases.form.error.birth_date", problems)
    values["age_years"] = _age(form.age_years, problems)
    values["last_seen_at"] = _last_seen(form, zone, problems)
    values["last_seen_lat"], values["last_seen_lon"] = _point(form, problems)
    return values, problems


def read_photo_age(form: CaseForm) -> tuple[int | None, date | None, list[Problem]]:
    """The age in months in the photos sent (None: unknown) and the date taken, or problems.

    The age is required: years and months, or "unknown" ticked."""
    problems: list[Problem] = []
    taken_on = _date(form.photo_taken_on, "cases.form.error.photo_taken_on", problems)
    years, months = form.photo_age_years.strip(), form.photo_age_months.strip()
    try:
        age = parse_age(years, months, unknown=bool(form.photo_age_unknown))
    except InvalidInput:
        if not (years or months):
            problems.append(Problem("cases.form.error.photo_age"))
        else:
            problems.append(
                Problem(
                    "cases.form.error.photo_age_value",
                    {"typed": f"{years[:4]} {months[:4]}".strip()},
                )
            )
        age = None
    return age, taken_on, problems
