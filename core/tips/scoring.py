"""The lead score: one transparent 0..100 number per tip, made of parts a moderator can read.

Pure functions over plain facts (no database). Each part is (name, points, reason); the score is
the parts' sum, clamped to 0..100. Flags (impossible travel, before the disappearance, contradicts
a credible sighting, a re-sent case photo) are shown beside the score, never hidden in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.cases.photo_ages import AGE_PROGRESSED, FaceHit
from core.geo import distance_km

PRECISE_SOURCES = frozenset({"live", "pin", "venue", "coords"})
# How far off a stated seen time may be, by how the tipster gave it (hours).
TIME_SLACK_H = {"now": 0.5, "today": 6.0, "day": 12.0}
DEFAULT_TIME_SLACK_H = 1.0
DISQUALIFYING_FLAGS = frozenset(
    {
        "impossible_travel",
        "before_disappearance",
        "case_photo",
        "recycled_image",
        "possible_extortion",
    }
)


@dataclass(frozen=True, slots=True)
class ScoreSettings:
    """The thresholds and speeds the score is built from (documented in docs/scoring.md)."""

    base: int = 20
    walk_kmh: float = 6.0
    walk_max_h: float = 12.0
    car_kmh: float = 100.0
    car_max_h: float = 48.0
    train_kmh: float = 250.0
    train_overhead_h: float = 1.0
    plane_kmh: float = 800.0
    plane_overhead_h: float = 3.0
    place_slack_km: float = 2.0
    credible_score: float = 50.0
    contradiction_window_h: float = 48.0
    # FaceMatch.similarity is 1 - distance / 1.2 (core.faces): 0.5 is dlib's 0.6 distance line,
    # 0.58 a distance of 0.5, 0.67 a distance of 0.4.
    face_strong: float = 0.67
    face_likely: float = 0.58
    face_weak: float = 0.50
    coarse_precision_m: float = 2000.0
    area_top: int = 5
    area_recent_days: float = 7.0
    area_half_life_h: float = 72.0
    area_min_radius_km: float = 1.0


DEFAULT_SETTINGS = ScoreSettings()


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """Where and when the child was last seen."""

    last_seen_at: datetime | None
    last_seen_lat: float | None
    last_seen_lon: float | None


@dataclass(frozen=True, slots=True)
class TipsterRecord:
    """How a tipster's earlier tips were judged."""

    promising: int = 0
    spam: int = 0
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class TipFacts:
    """Everything the score of one tip depends on."""

    seen_at: datetime | None = None
    seen_at_precision: str | None = None
    lat: float | None = None
    lon: float | None = None
    location_source: str | None = None
    location_precision_m: float | None = None
    photos: int = 0
    case_photo_copies: int = 0
    # Where the tip's photos were seen before: "case <ref>" (any public case's photo) or
    # "tip <ref>" (an earlier tip about another case). A recycled image is not a sighting.
    recycled_from: tuple[str, ...] = ()
    # The extortion patterns its text matched (core/tips/extortion.py).
    extortion: tuple[str, ...] = ()
    face_similarity: float | None = None
    # The case photo that similarity is with (nearest in age to the child at the tip's date), its
    # age gap and weight (core/tips/face_ages.py); and the child's age then, in years.
    face: FaceHit | None = None
    face_age_years: float | None = None
    cluster_size: int = 1
    independent_sources: int = 1
    tipster: TipsterRecord | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """Another scored sighting of the same case (for contradictions and the probable area)."""

    tip_id: int
    ref: str
    lat: float
    lon: float
    seen_at: datetime
    score: float
    precision_m: float | None = None
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ScorePart:
    """One reason the score moved, in points, with the figures behind it."""

    name: str
    points: int
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flag:
    """Something a moderator must look at, whatever the score."""

    code: str
    message: str
    tip_id: int | None = None


@dataclass(frozen=True, slots=True)
class LeadScore:
    """A tip's score with its parts and flags."""

    score: float
    parts: tuple[ScorePart, ...]
    flags: tuple[Flag, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON stored in tips.score_parts."""
        return {
            "version": 1,
            "score": self.score,
            "parts": [asdict(p) for p in self.parts],
            "flags": [asdict(f) for f in self.flags],
        }


def duration_text(hours: float) -> str:
    """A rough human duration: '40 minutes', '5 hours', '3 days', '6 weeks', '2 years'."""
    hours = abs(hours)
    for unit, size, limit in (
        ("minute", 1 / 60, 1.0),
        ("hour", 1.0, 48.0),
        ("day", 24.0, 24.0 * 21),
        ("week", 24.0 * 7, 24.0 * 7 * 13),
        ("month", 24.0 * 30.4, 24.0 * 365 * 2),
    ):
        if hours < limit:
            count = max(1, round(hours / size))
            return f"{count} {unit}{'' if count == 1 else 's'}"
    years = round(hours / (24 * 365.25))
    return f"{years} years"


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def travel_mode(km: float, hours: float, s: ScoreSettings = DEFAULT_SETTINGS) -> str | None:
    """The slowest plausible way to cover km in hours ('on foot' .. 'by plane'), or None."""
    hours = max(hours, 0.0)
    if hours <= s.walk_max_h and km <= s.walk_kmh * hours:
        return "on foot"
    if hours <= s.car_max_h and km <= s.car_kmh * hours:
        return "by car"
    if km <= s.car_kmh * hours or km <= s.train_kmh * (hours - s.train_overhead_h):
        return "by car or train"
    if km <= s.plane_kmh * (hours - s.plane_overhead_h):
        return "by plane"
    return None


def _slack_km(s: ScoreSettings, *precisions_m: float | None) -> float:
    return s.place_slack_km + sum((p or 0.0) / 1000 for p in precisions_m)


def _part(name: str, points: int, reason: str, **data: Any) -> ScorePart:
    return ScorePart(name=name, points=points, reason=reason, data=data)


def travel_part(
    tip: TipFacts, case: CaseFacts | None, s: ScoreSettings = DEFAULT_SETTINGS
) -> tuple[ScorePart, list[Flag]]:
    """Could the child have got from the last-seen place to this sighting in the time between?"""
    if case is None or case.last_seen_at is None:
        return _part("travel", 0, "No last-seen place and time to check travel against."), []
    if case.last_seen_lat is None or case.last_seen_lon is None:
        return _part("travel", 0, "No last-seen place and time to check travel against."), []
    if tip.seen_at is None or tip.lat is None or tip.lon is None:
        return _part("travel", 0, "The tip has no place and time, so travel was not checked."), []
    slack_h = TIME_SLACK_H.get(tip.seen_at_precision or "", DEFAULT_TIME_SLACK_H)
    hours = _hours(tip.seen_at, case.last_seen_at)
    if hours < -slack_h:
        before = duration_text(hours)
        reason = f"Seen {before} before the child went missing: not where the child is now."
        flag = Flag("before_disappearance", f"Sighting is dated {before} before the disappearance.")
        return _part("travel", -15, reason, hours=round(hours, 1)), [flag]
    km = distance_km((case.last_seen_lat, case.last_seen_lon), (tip.lat, tip.lon))
    effective = max(0.0, km - _slack_km(s, tip.location_precision_m))
    mode = travel_mode(effective, hours + slack_h, s)
    data = {"distance_km": round(km, 1), "hours": round(hours, 1), "mode": mode}
    where = f"{km:,.0f} km from the last-seen place, {duration_text(hours)} later"
    if mode is None:
        message = f"{where}: faster than any plausible travel."
        return _part("travel", -40, f"Impossible travel: {message}", **data), [
            Flag("impossible_travel", message)
        ]
    points = {"on foot": 15, "by car": 10}.get(mode, 5)
    return _part("travel", points, f"Plausible {mode}: {where}.", **data), []


def recency_part(tip: TipFacts, now: datetime) -> ScorePart:
    """Fresh sightings can be acted on; old ones mostly cannot."""
    if tip.seen_at is None:
        return _part("recency", 0, "No time given for the sighting.")
    hours = _hours(now, tip.seen_at)
    if hours < -0.25:
        return _part("recency", 0, "The sighting time is in the future: check the time given.")
    ago = f"Seen {duration_text(hours)} ago"
    for limit, points, verdict in (
        (6, 15, "recent enough to act on now"),
        (24, 12, "within the last day"),
        (72, 8, "within the last three days"),
        (24 * 14, 4, "within the last two weeks"),
        (24 * 90, 0, "weeks ago"),
    ):
        if hours <= limit:
            return _recency(points, f"{ago}: {verdict}.", hours, tip.seen_at)
    return _recency(-5, f"{ago}: too old to act on quickly.", hours, tip.seen_at)


def _recency(points: int, reason: str, hours: float, seen_at: datetime) -> ScorePart:
    # The time it counts from is kept, so the rescoring job can tell when the points go stale.
    return _part("recency", points, reason, hours=round(hours, 1), seen_at=seen_at.isoformat())


def location_part(tip: TipFacts, s: ScoreSettings = DEFAULT_SETTINGS) -> ScorePart:
    """A GPS point beats a photo's EXIF GPS, which beats a typed town, which beats nothing."""
    source, precision = tip.location_source, tip.location_precision_m
    if tip.lat is None or source is None:
        return _part("location", -5, "No place given: nobody can go and look.")
    coarse = precision is not None and precision > s.coarse_precision_m
    if source in PRECISE_SOURCES and not coarse:
        return _part(
            "location", 10, f"Exact point shared from the phone ({source}).", source=source
        )
    if source == "exif" and not coarse:
        return _part("location", 7, "Place taken from the photo's GPS.", source=source)
    if source in PRECISE_SOURCES or source == "exif":
        metres = f"{precision:,.0f}"
        reason = f"A point, but only accurate to about {metres} m."
        return _part("location", 3, reason, source=source)
    return _part("location", 3, "Only a typed place name (town level).", source=source)


def face_part(tip: TipFacts, s: ScoreSettings = DEFAULT_SETTINGS) -> ScorePart:
    """How alike the tip's face and the child's photo nearest in age are, weighted by the gap."""
    sim = tip.face_similarity
    if sim is None:
        return _part("face", 0, "No face from the tip's photos was compared with the child's.")
    shown = f"similarity {sim:.2f}"
    weight = tip.face.weight if tip.face is not None else 1.0
    age, data = _face_age(tip)
    for limit, points, verdict in (
        (s.face_strong, 25, "A strong face match"),
        (s.face_likely, 15, "A likely face match"),
        (s.face_weak, 5, "A weak face match"),
    ):
        if sim >= limit:
            reason = f"{verdict} ({shown}){age}; a moderator must still compare the photos."
            return _part("face", round(points * weight), reason, similarity=round(sim, 3), **data)
    reason = f"The face compared does not look like the child ({shown}){age}."
    return _part("face", round(-5 * weight), reason, similarity=round(sim, 3), **data)


def _face_age(tip: TipFacts) -> tuple[str, dict[str, Any]]:
    """The photo used, the child's age at the tip's date and the gap, as words and figures."""
    hit = tip.face
    if hit is None or hit.photo is None:
        return "", {}
    photo = hit.photo
    what = "age-progressed image" if photo.kind == AGE_PROGRESSED else "photo"
    at = "unknown age" if photo.age_months is None else f"age {_years(photo.age_months / 12)}"
    words = f", with case {what} {photo.number} ({at})"
    if tip.face_age_years is not None:
        words += f"; the child is about {_years(tip.face_age_years)} at the tip's date"
    if hit.gap_years is not None:
        words += f", a gap of {abs(hit.gap_years):g} years"
    words += f", face weight {hit.weight:g}"
    data = {
        "photo": photo.number,
        "photo_kind": photo.kind,
        "photo_age_months": photo.age_months,
        "age_years": None if tip.face_age_years is None else round(tip.face_age_years, 1),
        "gap_years": hit.gap_years,
        "weight": hit.weight,
    }
    return words, data


def _years(years: float) -> str:
    """Whole years as people count them, or months under two."""
    return f"{round(years * 12)} months" if years < 2 and years * 12 % 12 else f"{int(years)}"


def photo_part(tip: TipFacts) -> tuple[ScorePart, list[Flag]]:
    """A photo of the sighting helps, unless it is the family's own photo sent back, or a
    photo seen before elsewhere (a recycled image)."""
    if tip.photos == 0:
        return _part("photo", 0, "No photo came with the tip."), []
    if tip.recycled_from:
        seen = ", ".join(tip.recycled_from[:5])
        message = f"Recycled image: a photo is a near-copy of one seen before ({seen})."
        data = {"photos": tip.photos, "recycled_from": list(tip.recycled_from[:5])}
        return _part("photo", -25, message, **data), [Flag("recycled_image", message)]
    if tip.case_photo_copies >= tip.photos:
        message = "The photo is a copy of the case's own published photo, not a new sighting."
        return _part("photo", -10, message, photos=tip.photos), [Flag("case_photo", message)]
    count = "a photo" if tip.photos == 1 else f"{tip.photos} photos"
    return _part("photo", 5, f"The tip came with {count}.", photos=tip.photos), []


def corroboration_part(tip: TipFacts) -> ScorePart:
    """Independent people who report the same thing; copies of one source do not count."""
    n, size = tip.independent_sources, tip.cluster_size
    data = {"independent_sources": n, "cluster_size": size}
    if n <= 1:
        if size > 1:
            reason = f"{size} reports agree, but they all come from one source (copies)."
            return _part("corroboration", 0, reason, **data)
        return _part("corroboration", 0, "No other report agrees with this one yet.", **data)
    points = min(20, 10 + 5 * (n - 2))
    reason = f"{n} independent sources report the same sighting ({size} reports in all)."
    return _part("corroboration", points, reason, **data)


def tipster_part(tip: TipFacts) -> ScorePart:
    """The tipster's record: promising tips raise it, spam lowers it, a newcomer is neutral."""
    record = tip.tipster
    if record is None:
        return _part("tipster", 0, "Sent without a tipster account: no record to go on.")
    if record.blocked:
        return _part("tipster", -20, "This tipster is blocked.")
    p, k = record.promising, record.spam
    if p + k == 0:
        return _part("tipster", 0, "New tipster: no record yet.")
    points = round(20 * ((p + 1) / (p + k + 2) - 0.5))
    reason = f"This tipster's earlier tips: {p} promising, {k} spam."
    return _part("tipster", points, reason, promising=p, spam=k)


def contradictions(
    tip: TipFacts, others: Sequence[Sighting], s: ScoreSettings = DEFAULT_SETTINGS
) -> list[Flag]:
    """Credible sightings of the same case that this one cannot be squared with."""
    if tip.seen_at is None or tip.lat is None or tip.lon is None:
        return []
    flags = []
    for other in others:
        if not is_credible(other, s):
            continue
        hours = abs(_hours(tip.seen_at, other.seen_at))
        if hours > s.contradiction_window_h:
            continue
        km = distance_km((tip.lat, tip.lon), (other.lat, other.lon))
        effective = km - _slack_km(s, tip.location_precision_m, other.precision_m)
        if travel_mode(max(0.0, effective), hours + DEFAULT_TIME_SLACK_H, s) is None:
            message = (
                f"Contradicts tip {other.ref} (score {other.score:.0f}): "
                f"{km:,.0f} km apart, {duration_text(hours)} apart."
            )
            flags.append(Flag("contradicts_sighting", message, tip_id=other.tip_id))
    return flags


def is_credible(sighting: Sighting, s: ScoreSettings = DEFAULT_SETTINGS) -> bool:
    """Whether a sighting scores high enough and carries no disqualifying flag."""
    return sighting.score >= s.credible_score and not sighting.flags & DISQUALIFYING_FLAGS


def score_tip(
    tip: TipFacts,
    *,
    case: CaseFacts | None,
    others: Sequence[Sighting] = (),
    now: datetime,
    settings: ScoreSettings = DEFAULT_SETTINGS,
) -> LeadScore:
    """The lead score of one tip, its parts and its flags."""
    travel, travel_flags = travel_part(tip, case, settings)
    photo, photo_flags = photo_part(tip)
    parts = (
        _part("base", settings.base, f"Every tip starts at {settings.base} points."),
        travel,
        recency_part(tip, now),
        location_part(tip, settings),
        face_part(tip, settings),
        photo,
        corroboration_part(tip),
        tipster_part(tip),
    )
    total = float(min(100, max(0, sum(p.points for p in parts))))
    flags = (*travel_flags, *photo_flags, *extortion_flags(tip))
    flags += tuple(contradictions(tip, others, settings))
    return LeadScore(score=total, parts=parts, flags=flags)


def extortion_flags(tip: TipFacts) -> list[Flag]:
    """A text asking for money or threatening: it never reaches a family without a senior."""
    if not tip.extortion:
        return []
    signs = ", ".join(sign.replace("_", " ") for sign in tip.extortion)
    message = f"Possible extortion: the text asks for money or threatens ({signs})."
    return [Flag("possible_extortion", message)]


def probable_area(
    sightings: Sequence[Sighting], *, settings: ScoreSettings = DEFAULT_SETTINGS
) -> tuple[float, float, float] | None:
    """(lat, lon, radius_km) around a case's best recent credible sightings, or None."""
    credible = [x for x in sightings if is_credible(x, settings)]
    if not credible:
        return None
    newest = max(x.seen_at for x in credible)
    recent = [
        x for x in credible if newest - x.seen_at <= timedelta(days=settings.area_recent_days)
    ]
    top = sorted(recent, key=lambda x: (-x.score, x.tip_id))[: settings.area_top]
    weights = [
        x.score * 0.5 ** (_hours(newest, x.seen_at) / settings.area_half_life_h) for x in top
    ]
    lat, lon = _weighted_centroid([(x.lat, x.lon) for x in top], weights)
    reach = max(
        distance_km((lat, lon), (x.lat, x.lon)) + (x.precision_m or 0.0) / 1000 for x in top
    )
    return lat, lon, math.ceil(max(settings.area_min_radius_km, reach) * 1000) / 1000


def _weighted_centroid(
    points: Sequence[tuple[float, float]], weights: Sequence[float]
) -> tuple[float, float]:
    """The weighted mean on the sphere (right across the antimeridian and near the poles)."""
    x = y = z = 0.0
    for (lat, lon), w in zip(points, weights, strict=True):
        phi, lam = math.radians(lat), math.radians(lon)
        x += w * math.cos(phi) * math.cos(lam)
        y += w * math.cos(phi) * math.sin(lam)
        z += w * math.sin(phi)
    if math.isclose(math.hypot(x, y, z), 0.0, abs_tol=1e-12):
        return points[0]
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    return round(lat, 6), round(math.degrees(math.atan2(y, x)), 6)
