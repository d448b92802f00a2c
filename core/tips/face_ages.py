"""The face evidence of a tip: its faces against the case photo nearest in age to the child at the
tip's date, weighted by the age gap (the rule of core/cases/photo_ages.py, as case-to-case
matching).

A child who disappeared at 3 and is sighted at 11 is compared with the case photo taken nearest
to 11 (an age-progressed image, a later school photo), not the baby photo. When that photo's face
was not within the threshold but another photo's was, the best of those counts instead, at the
weight of its own gap: a face match is never dropped, only weighed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.matching import aged_photos
from core.cases.photo_ages import AgedPhoto, FaceHit, age_years_at, face_weight, pick_face
from storage.models import Case, FaceEmbedding, FaceMatch, FaceVerdict, Tip

NOT_SAME: Final = "not_same"  # a FaceVerdict: the tip's face is not this case's child


@dataclass(frozen=True, slots=True)
class TipFace:
    """The face a tip's score uses: the hit (similarity, photo, gap, weight) and the child's age
    in years at the tip's date (None when the case gives no age)."""

    hit: FaceHit
    age_years: float | None


async def tip_face(session: AsyncSession, *, tip: Tip, at: datetime) -> TipFace | None:
    """The face evidence for a tip sent or seen at `at`, leaving out cases a moderator judged
    "not the same child"; None when no face of the tip is within the threshold of a case's."""
    by_case = await _similarities(session, tip)
    if not by_case:
        return None
    photos = await aged_photos(session, set(by_case))
    stmt = select(Case.id, Case.birth_date, Case.age_years, Case.last_seen_at).where(
        Case.id.in_(by_case)
    )
    best: TipFace | None = None
    for row in (await session.execute(stmt)).all():
        age = age_years_at(
            birth_date=row.birth_date, age_years=row.age_years, last_seen_at=row.last_seen_at, at=at
        )
        hit = face_at_age(photos.get(row.id, []), by_case[row.id], age)
        if hit is not None and (best is None or _weighted(hit) > _weighted(best.hit)):
            best = TipFace(hit=hit, age_years=age)
    return best


def face_at_age(
    photos: list[AgedPhoto], similarities: dict[int, float], age_years: float | None
) -> FaceHit | None:
    """The photo nearest in age if its face matched; else the best-weighted photo that did."""
    hit = pick_face(photos, similarities, age_years)
    if hit is not None:
        return hit
    hits = [pick_face([photo], similarities, age_years) for photo in photos]
    found = [h for h in hits if h is not None]
    if found:
        return max(found, key=_weighted)
    if similarities:  # faces recorded without a usable photo row: the similarity, no age known
        return FaceHit(similarity=max(similarities.values()), weight=face_weight(None))
    return None


def _weighted(hit: FaceHit) -> float:
    return hit.similarity * hit.weight


async def _similarities(session: AsyncSession, tip: Tip) -> dict[int, dict[int, float]]:
    """case id -> case photo id -> the best similarity of a tip face with that photo's faces."""
    judged_other = select(FaceVerdict.case_id).where(
        FaceVerdict.tip_id == tip.id, FaceVerdict.verdict == NOT_SAME
    )
    stmt = (
        select(FaceMatch.case_id, FaceEmbedding.case_photo_id, func.max(FaceMatch.similarity))
        .join(FaceEmbedding, FaceEmbedding.id == FaceMatch.case_face_id)
        .where(FaceMatch.tip_id == tip.id, FaceMatch.case_id.not_in(judged_other))
        .group_by(FaceMatch.case_id, FaceEmbedding.case_photo_id)
    )
    if tip.case_id is not None:
        stmt = stmt.where(FaceMatch.case_id == tip.case_id)
    found: dict[int, dict[int, float]] = {}
    for case_id, photo_id, best in (await session.execute(stmt)).all():
        found.setdefault(int(case_id), {})[int(photo_id or 0)] = float(best)
    return found
