"""Ages of case photos: reading "years and months, or unknown", picking the photo nearest in age,
and how much a face similarity counts across an age gap (pure logic; docs/matching.md).

A face changes most in childhood: a photo at 2 says little about a face at 30, and a forensic
artist's age-progressed image at 30 says more. So matching compares a face with the case photo
nearest in age to the person's age at the time, and the face's weight falls as the gap grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from core.errors import InvalidInput
from core.i18n import Texts

PHOTO: Final = "photo"
AGE_PROGRESSED: Final = "age_progressed"
PHOTO_KINDS: Final = (PHOTO, AGE_PROGRESSED)
MAX_AGE_MONTHS: Final = 120 * 12
# The weight rule (docs/matching.md): full weight within FULL_WEIGHT_YEARS; then it falls by
# WEIGHT_PER_YEAR for every year beyond, down to MIN_WEIGHT. A photo of unknown age counts
# UNKNOWN_WEIGHT (it may be from any age).
FULL_WEIGHT_YEARS: Final = 2.0
WEIGHT_PER_YEAR: Final = 0.05
MIN_WEIGHT: Final = 0.4
UNKNOWN_WEIGHT: Final = 0.7
YEAR_DAYS: Final = 365.25


def parse_age(years: str, months: str = "", *, unknown: bool = False) -> int | None:
    """Months of age from form fields ("2" years, "6" months); None when marked unknown.

    Raises InvalidInput when neither an age nor "unknown" was given, or the age is not one."""
    years, months = years.strip(), months.strip()
    if unknown:
        if years or months:
            raise InvalidInput("give the age at the photo, or tick 'unknown', not both")
        return None
    if not years and not months:
        raise InvalidInput("give the age at the photo (years and months), or tick 'unknown'")
    try:
        y, m = int(years or "0"), int(months or "0")
    except ValueError:
        raise InvalidInput("the age at the photo is in whole years and months") from None
    if y < 0 or not 0 <= m <= 11 or y * 12 + m > MAX_AGE_MONTHS:
        raise InvalidInput("the age at the photo is 0 to 120 years and 0 to 11 months")
    return y * 12 + m


# A caption's age, as families type it: "age 3", "3", "3 years 6 months", "18 months", "3岁",
# "3岁半", "1岁6个月", "18个月". Anything else leaves the age unknown (the note is kept as typed).
_YEARS = r"(?P<y>\d{1,3})\s*(?:years?|yrs?|y|岁|周岁)?"
_MONTHS = r"(?P<m>\d{1,3})\s*(?:months?|mos?|个月|月)"
_CAPTION_AGE = re.compile(
    rf"^(?:age[ds]?\s*|at\s+|年龄\s*)?(?:{_MONTHS}|{_YEARS}(?P<half>半)?\s*(?:(?:and\s+)?"
    rf"(?P<m2>\d{{1,2}})\s*(?:months?|mos?|个月|月))?)\s*(?:old)?$"
)


def age_from_note(note: str) -> int | None:
    """Months of age from a photo's caption ("age 3" -> 36, "3岁半" -> 42, "18 months" -> 18);
    None when the caption says no age we can read."""
    found = _CAPTION_AGE.match(" ".join(note.strip().lower().split()))
    if found is None:
        return None
    if found["m"] is not None:
        months = int(found["m"])
    else:
        months = int(found["y"]) * 12 + (6 if found["half"] else int(found["m2"] or 0))
    return months if 0 <= months <= MAX_AGE_MONTHS else None


def age_caption(months: int | None, kind: str, texts: Texts) -> str:
    """ "Photo at age 2", "Photo at age 18 months", "Age-progressed image, about age 30"."""
    if months is None:
        return texts("photo.age_unknown") if kind == PHOTO else texts("photo.progressed_unknown")
    if kind == AGE_PROGRESSED:
        return texts("photo.progressed_at", years=months // 12)
    if months < 24 and months % 12:
        return texts("photo.at_months", months=months)
    return texts("photo.at_years", years=months // 12)


@dataclass(frozen=True, slots=True)
class AgedPhoto:
    """A case photo that has a face: its number on the case (from 1), kind and age in months."""

    photo_id: int
    number: int
    kind: str
    age_months: int | None


@dataclass(frozen=True, slots=True)
class FaceHit:
    """The face similarity a match uses, the photo it came from and what it weighs."""

    similarity: float
    weight: float = 1.0
    photo: AgedPhoto | None = None
    gap_years: float | None = None


def age_years_at(
    *, birth_date: date | None, age_years: int | None, last_seen_at: datetime | None, at: datetime
) -> float | None:
    """A person's age in years at a moment: from the birth date, else the age when last seen plus
    the years since (age at disappearance + years since); None when neither is known."""
    if birth_date is not None:
        return (at.date() - birth_date).days / YEAR_DAYS
    if age_years is None:
        return None
    since = (at - last_seen_at).days / YEAR_DAYS if last_seen_at else 0.0
    return age_years + max(0.0, since)


def face_weight(gap_years: float | None) -> float:
    """How much a face similarity counts across an age gap (1.0 down to MIN_WEIGHT)."""
    if gap_years is None:
        return UNKNOWN_WEIGHT
    beyond = max(0.0, abs(gap_years) - FULL_WEIGHT_YEARS)
    return round(max(MIN_WEIGHT, 1.0 - WEIGHT_PER_YEAR * beyond), 3)


def nearest_photo(photos: Iterable[AgedPhoto], age_years: float | None) -> AgedPhoto | None:
    """The photo nearest in age (an age-progressed image wins a tie; unknown ages come last)."""

    def distance(photo: AgedPhoto) -> tuple[float, int, int]:
        if photo.age_months is None or age_years is None:
            gap = float("inf") if age_years is not None else 0.0
        else:
            gap = abs(photo.age_months / 12 - age_years)
        return (gap, 0 if photo.kind == AGE_PROGRESSED else 1, photo.number)

    return min(photos, key=distance, default=None)


def pick_face(
    photos: Iterable[AgedPhoto], similarities: dict[int, float], age_years: float | None
) -> FaceHit | None:
    """The face evidence for a pair: the photo nearest in age, if its face is within threshold.

    similarities: per photo id of this case, the best similarity with the other person's faces
    (only those within the face threshold)."""
    chosen = nearest_photo(photos, age_years)
    if chosen is None or chosen.photo_id not in similarities:
        return None
    gap = None
    if chosen.age_months is not None and age_years is not None:
        gap = round(age_years - chosen.age_months / 12, 1)
    return FaceHit(
        similarity=similarities[chosen.photo_id],
        weight=face_weight(gap),
        photo=chosen,
        gap_years=gap,
    )
