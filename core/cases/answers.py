"""How a family's typed answers about a missing child are read: a birth date or an age, a text
that must fit its column (and, for a name, read as one), languages and a dialect."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from core.cases.registry import LIMITS, MAX_AGE

EARLIEST_BIRTH_YEAR = 1900
_ISO = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?")
_AGE = re.compile(r"(\d{1,3})\s*(?:岁|歲|周岁|years?(?:\s*old)?|yrs?|y)?", re.IGNORECASE)
_SPLIT = re.compile(r"[;；\n]")

BornOutcome = Literal["ok", "unreadable", "impossible", "future", "too_old"]
TextOutcome = Literal["ok", "too_long", "empty", "no_letters"]


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
