"""How alike two case records are, with reasons a moderator can read (pure logic, no database).

A score is a sum of points, clipped to 0..1. Each signal that gave points (or took them away) is a
reason {"code": ..., "params": {...}}; the dashboard renders it from locales/*/matching.po.
Names are compared after normalisation (NFKC, case, accents, punctuation); Chinese names are
compared as characters, and a Chinese nickname (小明, 明明, 阿明) is reduced to its given-name core.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple, Protocol

from rapidfuzz import fuzz

from core.cases.photo_ages import YEAR_DAYS, FaceHit, age_years_at
from core.dedup.text import normalise_text

MIN_SCORE: Final = 0.45
NAME_FLOOR: Final = 70.0  # below this a name says nothing
SAME_NAME: Final = 90.0  # a duplicate needs names at least this alike
_NICK_SPLIT = re.compile(r"[,;/|、，；\n]+|\s+or\s+|\s+或\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[^\W\d_]{3,}")
_CJK_PREFIXES = ("小", "阿", "老")
_STOPWORDS = frozenset({"the", "and", "with", "has", "his", "her", "one", "two", "very", "near"})

Reason = dict[str, Any]


class Name(NamedTuple):
    """A normalised name, whether it is a nickname, and its Chinese given-name core (or "")."""

    text: str
    nickname: bool
    core: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What matching looks at in one case, normalised once."""

    id: int
    kind: str
    sex: str | None
    names: tuple[Name, ...]
    birth_date: date | None
    age_years: int | None
    last_seen_at: datetime | None
    lat: float | None
    lon: float | None
    marks: frozenset[str]


@dataclass(slots=True)
class Scored:
    """A pair worth a moderator's look: its kind (duplicate | found), score and reasons."""

    kind: str
    score: float
    reasons: list[Reason] = field(default_factory=list)


class CaseFields(Protocol):
    """The columns matching reads: a Case row, or a Core row selecting the same names."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def sex(self) -> str | None: ...
    @property
    def full_name(self) -> str: ...
    @property
    def nicknames(self) -> str: ...
    @property
    def birth_date(self) -> date | None: ...
    @property
    def age_years(self) -> int | None: ...
    @property
    def last_seen_at(self) -> datetime | None: ...
    @property
    def last_seen_lat(self) -> float | None: ...
    @property
    def last_seen_lon(self) -> float | None: ...
    @property
    def marks(self) -> str: ...


def profile(case: CaseFields) -> Profile:
    """A case's matching profile."""
    return Profile(
        id=case.id,
        kind=case.kind,
        sex=case.sex,
        names=name_variants(case.full_name, case.nicknames),
        birth_date=case.birth_date,
        age_years=case.age_years,
        last_seen_at=case.last_seen_at,
        lat=case.last_seen_lat,
        lon=case.last_seen_lon,
        marks=mark_words(case.marks),
    )


def normalise_name(name: str) -> str:
    """A name as compared: normalised text without accents (José -> jose)."""
    decomposed = unicodedata.normalize("NFKD", normalise_text(name))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


# Names and marks repeat across refreshes (each one reads the whole registry): normalise once.
@lru_cache(maxsize=1 << 16)
def name_variants(full_name: str, nicknames: str) -> tuple[Name, ...]:
    """The full name and each nickname, normalised, with whether it is a nickname."""
    found = [(normalise_name(full_name), False)]
    found += [(normalise_name(n), True) for n in _NICK_SPLIT.split(nicknames or "")]
    kept: dict[str, bool] = {}
    for name, nickname in found:
        if name and name not in kept:
            kept[name] = nickname
    return tuple(Name(n, nick, cjk_core(n, full=not nick)) for n, nick in kept.items())


def cjk_core(name: str, *, full: bool) -> str:
    """The given-name core of a Chinese name: 王小明 -> 明 (full), 小明 / 明明 / 阿明 -> 明."""
    if not _CJK.fullmatch(name):
        return ""
    if full and 2 <= len(name) <= 4:
        name = name[2:] if len(name) == 4 else name[1:]  # a compound surname when four long
    if len(name) >= 2 and name.startswith(_CJK_PREFIXES):
        name = name[1:]
    if name.endswith("儿") and len(name) >= 2:
        name = name[:-1]
    return "".join(dict.fromkeys(name))  # 明明 -> 明


def name_similarity(a: str, a_nick: bool, b: str, b_nick: bool) -> float:
    """0..100: edit similarity on characters, a given name inside a full name, Chinese cores."""
    first = Name(a, a_nick, cjk_core(a, full=not a_nick))
    return _similarity(first, Name(b, b_nick, cjk_core(b, full=not b_nick)))


def _similarity(a: Name, b: Name) -> float:
    score = fuzz.ratio(a.text, b.text)
    if " " in a.text or " " in b.text:
        score = max(score, 0.9 * fuzz.token_set_ratio(a.text, b.text))  # "lily" in "lily chen"
    if a.core and a.core == b.core:
        score = max(score, 90.0)
    return float(score)


def best_name(a: Profile, b: Profile) -> tuple[float, Reason] | None:
    """The most alike pair of names, as a reason, or None below NAME_FLOOR."""
    best: tuple[float, Name | None, Name | None] = (0.0, None, None)
    for name_a in a.names:
        for name_b in b.names:
            score = _similarity(name_a, name_b)
            if score > best[0]:
                best = (score, name_a, name_b)
    score, first, second = best
    if first is None or second is None or score < NAME_FLOOR:
        return None
    code = "nickname" if first.nickname or second.nickname else "name"
    return score, _reason(code, a=first.text, b=second.text, similarity=round(score))


@lru_cache(maxsize=1 << 16)
def mark_words(marks: str) -> frozenset[str]:
    """Words of a marks text: Latin words of 3+ letters, and pairs of Chinese characters."""
    text = normalise_name(marks)
    words = {w for w in _LATIN_WORD.findall(text) if w not in _STOPWORDS and not _CJK.search(w)}
    for run in _CJK.findall(text):
        words.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(words)


def age_at(p: Profile, at: datetime) -> float | None:
    """A person's age in years at a moment: from the birth date, or age_years at last_seen_at."""
    return age_years_at(
        birth_date=p.birth_date, age_years=p.age_years, last_seen_at=p.last_seen_at, at=at
    )


def distance_km(a: Profile, b: Profile) -> float | None:
    """Great-circle distance between two last-seen points (haversine: fast, close enough here)."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    la, lb = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lb - la, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(la) * math.cos(lb) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def _reason(code: str, **params: Any) -> Reason:
    return {"code": code, "params": params}


def score_pair(a: Profile, b: Profile, *, face: FaceHit | None, now: datetime) -> Scored | None:
    """Score a pair: duplicates when of the same kind, a found-match otherwise; None if unlikely."""
    if a.kind == b.kind:
        return score_duplicate(a, b, face=face)
    missing, found = (a, b) if a.kind == "missing" else (b, a)
    return score_found(missing, found, face=face, now=now)


def score_found(
    missing: Profile, found: Profile, *, face: FaceHit | None, now: datetime
) -> Scored | None:
    """Could this found person be this missing child? Needs a name, a face or shared marks."""
    scored = Scored(kind="found", score=0.0)
    identifying = _name_points(scored, missing, found) > 0
    identifying |= _face_points(scored, face)
    identifying |= _mark_points(scored, missing, found)
    if not identifying:
        return None
    if missing.sex is not None and missing.sex == found.sex:
        _add(scored, 0.05, "sex", sex=missing.sex)
    found_at = found.last_seen_at or now
    _age_points(scored, missing, found, at=found_at)
    _timeline_points(scored, missing, found, found_at=found.last_seen_at)
    _distance_points(scored, missing, found)
    return _kept(scored)


def score_duplicate(a: Profile, b: Profile, *, face: FaceHit | None) -> Scored | None:
    """Is this the same person registered twice? Same names and birth date (or day last seen),
    or the same face."""
    scored = Scored(kind="duplicate", score=0.0)
    named = _name_points(scored, a, b) >= SAME_NAME
    identified = _face_points(scored, face)
    if named and a.birth_date is not None and a.birth_date == b.birth_date:
        _add(scored, 0.5, "same_birth_date", date=a.birth_date.isoformat())
        identified = True
    elif named and _same_day(a.last_seen_at, b.last_seen_at) and _dates_agree(a, b):
        _add(scored, 0.4, "same_last_seen", date=_day(a.last_seen_at))
        identified = True
    if not identified:
        return None
    _mark_points(scored, a, b)
    return _kept(scored)


def _name_points(scored: Scored, a: Profile, b: Profile) -> float:
    """Adds up to 0.45 for alike names; returns their similarity (0 when none is alike)."""
    found = best_name(a, b)
    if found is None:
        return 0.0
    score, reason = found
    scored.score += 0.45 * score / 100
    scored.reasons.append(reason)
    return score


def _face_points(scored: Scored, face: FaceHit | None) -> bool:
    """face: the best similarity (0..1) of two faces within the threshold, weighted by the age
    gap between the photo used and the person's age (core/cases/photo_ages.py), or None."""
    if face is None:
        return False
    points = (0.5 + 0.6 * max(0.0, face.similarity - 0.5)) * face.weight
    params: dict[str, Any] = {"similarity": round(face.similarity, 2)}
    if face.photo is not None:
        params.update(
            photo=face.photo.number,
            photo_kind=face.photo.kind,
            photo_age_months=face.photo.age_months,
            gap_years=face.gap_years,
            weight=face.weight,
        )
    _add(scored, points, "face", **params)
    return True


def _mark_points(scored: Scored, a: Profile, b: Profile) -> bool:
    shared = sorted(a.marks & b.marks)
    if not shared:
        return False
    _add(scored, 0.2 * min(1.0, len(shared) / 3), "marks", words=", ".join(shared[:6]))
    return True


def _age_points(scored: Scored, missing: Profile, found: Profile, *, at: datetime) -> None:
    expected, estimated = age_at(missing, at), age_at(found, at)
    if expected is None or estimated is None:
        return
    years = (at - missing.last_seen_at).days / YEAR_DAYS if missing.last_seen_at else 0.0
    # Ages are guessed less well the longer ago a child was taken (many never knew their birthday).
    tolerance = min(8.0, 2.0 + 0.25 * max(0.0, years))
    params = {"expected": int(expected), "estimated": int(estimated)}  # years as people count
    gap = abs(expected - estimated)
    if gap <= tolerance:
        _add(scored, 0.2, "age", **params)
    elif gap > 2 * tolerance:
        _add(scored, -0.3, "age_mismatch", **params)


def _timeline_points(
    scored: Scored, missing: Profile, found: Profile, *, found_at: datetime | None
) -> None:
    if found_at is None or missing.last_seen_at is None:
        return
    days = (found_at - missing.last_seen_at).days
    if days >= -1:  # a day's slack for time zones and rough dates
        _add(scored, 0.05, "found_after", days=max(0, days))
    else:
        _add(scored, -0.4, "found_before", days=-days)


def _distance_points(scored: Scored, a: Profile, b: Profile) -> None:
    km = distance_km(a, b)
    if km is None:
        return
    # Weak on purpose: children are often moved far from where they were taken.
    points = 0.1 if km <= 50 else 0.05 if km <= 300 else 0.0
    _add(scored, points, "distance", km=round(km))


def _same_day(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and abs((a - b).total_seconds()) <= 86_400


def _dates_agree(a: Profile, b: Profile) -> bool:
    return a.birth_date is None or b.birth_date is None or a.birth_date == b.birth_date


def _day(at: datetime | None) -> str:
    return at.date().isoformat() if at else ""


def _add(scored: Scored, points: float, code: str, **params: Any) -> None:
    scored.score += points
    scored.reasons.append(_reason(code, **params))


def _kept(scored: Scored) -> Scored | None:
    scored.score = round(min(1.0, max(0.0, scored.score)), 3)
    return scored if scored.score >= MIN_SCORE else None
