"""Matching cases with each other: found people with missing children, and duplicate records.

Candidates come from SQL (not withdrawn; sex compatible when both are known; of the other kind for
a found-match; of the same kind for a duplicate, only those sharing a name key
(core/cases/name_keys.py) and a date, or a face), are scored in Python (core/cases/match_scoring.py)
and kept as CaseMatch rows for moderators: a pair once (the lower case id first), its score and
reasons refreshed, a moderator's confirmation or dismissal kept. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.match_scoring import CaseFields, Profile, Scored, age_at, profile, score_pair
from core.cases.name_keys import NameKeys, name_keys
from core.cases.photo_ages import AgedPhoto, FaceHit, pick_face
from core.faces.index import DEFAULT_THRESHOLD, FaceIndex, similarity
from core.faces.records import HAS_VECTOR, unpack
from storage.models import Case, CaseMatch, CaseNameKey, CasePhoto, FaceEmbedding
from storage.types import utcnow

# Beyond this many matches for one case the rest are noise (a common nickname).
MAX_MATCHES: Final = 50
# Same-kind records read for one case's duplicates: blocking by name keys and dates keeps this to
# a handful; the cap holds the cost flat even when a batch repeats one name on one day.
MAX_DUPLICATE_READS: Final = 100
OPEN: Final = "open"
_FIELDS = (
    Case.id,
    Case.kind,
    Case.sex,
    Case.full_name,
    Case.nicknames,
    Case.birth_date,
    Case.age_years,
    Case.last_seen_at,
    Case.last_seen_lat,
    Case.last_seen_lon,
    Case.marks,
)

Pair = tuple[int, int, str]


async def refresh_matches(
    session: AsyncSession,
    *,
    case: Case,
    face_threshold: float = DEFAULT_THRESHOLD,
    now: datetime | None = None,
) -> list[CaseMatch]:
    """Score a case against the registry and store its likely matches (no commit), best first."""
    now = now or utcnow()
    await session.flush()
    scored: dict[Pair, Scored] = {}
    if case.status != "withdrawn":
        me = profile(case)
        keys = await store_name_keys(session, case=case)
        faces = await face_links(session, case=case, threshold=face_threshold)
        candidates = await _candidates(
            session, case=case, keys=keys, face_case_ids=set(faces.pairs)
        )
        for row in candidates:
            other = profile(row)
            result = score_pair(me, other, face=faces.hit(me, other, now=now), now=now)
            if result is not None:
                scored[_pair(me, other, result.kind)] = result
    best = sorted(scored.items(), key=lambda item: -item[1].score)[:MAX_MATCHES]
    return await _store(session, case_id=case.id, scored=dict(best))


def _candidate_filter(case: Case) -> ColumnElement[bool]:
    """Cases worth comparing with this one, whatever the kind of match."""
    conditions = [Case.id != case.id, Case.status != "withdrawn"]
    if case.sex is not None:
        conditions.append(or_(Case.sex.is_(None), Case.sex == case.sex))
    return and_(*conditions)


def _date_filter(case: Case) -> ColumnElement[bool]:
    """A duplicate needs the same birth date or last-seen day (or a face, added separately)."""
    options: list[ColumnElement[bool]] = []
    if case.birth_date is not None:
        options.append(Case.birth_date == case.birth_date)
    if case.last_seen_at is not None:
        day = timedelta(days=1)
        options.append(Case.last_seen_at.between(case.last_seen_at - day, case.last_seen_at + day))
    return or_(false(), *options)


async def store_name_keys(session: AsyncSession, *, case: Case) -> NameKeys:
    """Replace a case's name keys (core/cases/name_keys.py) with those of its names now."""
    await session.execute(delete(CaseNameKey).where(CaseNameKey.case_id == case.id))
    keys = name_keys(case.full_name, case.nicknames or "")
    rows = [{"case_id": case.id, "key": key} for key in keys.all]
    if rows:
        await session.execute(insert(CaseNameKey), rows)
    return keys


async def _candidates(
    session: AsyncSession, *, case: Case, keys: NameKeys, face_case_ids: set[int]
) -> list[CaseFields]:
    """Rows of the cases to score (only the columns matching reads): every case of the other
    kind; of the same kind, those sharing a date and a name key, close keys first (at most
    MAX_DUPLICATE_READS each), and those with a face alike."""
    others = select(*_FIELDS).where(_candidate_filter(case), Case.kind != case.kind)
    rows: list[CaseFields] = list((await session.execute(others)).all())
    same = and_(_candidate_filter(case), Case.kind == case.kind)
    seen: set[int] = set()
    for tier in (keys.close, keys.words):
        keyed = select(CaseNameKey.case_id).where(CaseNameKey.key.in_(tier))
        stmt = select(*_FIELDS).where(same, Case.id.in_(keyed), _date_filter(case))
        if seen:
            stmt = stmt.where(Case.id.not_in(seen))
        stmt = stmt.order_by(Case.id.desc()).limit(MAX_DUPLICATE_READS)
        found = (await session.execute(stmt)).all()
        rows += found
        seen |= {row.id for row in found}
    if face_case_ids - seen:
        faced = select(*_FIELDS).where(same, Case.id.in_(face_case_ids - seen))
        rows += (await session.execute(faced)).all()
    return rows


@dataclass(frozen=True, slots=True)
class FaceLinks:
    """Faces of this case within the threshold of other cases' faces, by photo, and the aged
    photos (photos with a face) of every case involved."""

    # other case id -> (this case's photo id, the other's photo id) -> best similarity
    pairs: dict[int, dict[tuple[int, int], float]]
    photos: dict[int, list[AgedPhoto]]

    def hit(self, me: Profile, other: Profile, *, now: datetime) -> FaceHit | None:
        """The face evidence for a pair: for a found-match, the missing person's photo nearest
        in age to the found person's age when found; for a duplicate, the best two faces."""
        links = self.pairs.get(other.id)
        if not links:
            return None
        if me.kind == other.kind:
            return FaceHit(similarity=max(links.values()))
        missing_is_me = me.kind == "missing"
        found = other if missing_is_me else me
        best: dict[int, float] = {}
        for (mine, theirs), value in links.items():
            photo = mine if missing_is_me else theirs
            best[photo] = max(best.get(photo, 0.0), value)
        missing_id = me.id if missing_is_me else other.id
        at = found.last_seen_at or now
        age = age_at(found, at)
        if age is None:
            age = age_at(me if missing_is_me else other, at)
        return pick_face(self.photos.get(missing_id, []), best, age)


async def aged_photos(session: AsyncSession, case_ids: set[int]) -> dict[int, list[AgedPhoto]]:
    """Each case's photos that have a face, with their kind and age."""
    stmt = (
        select(CasePhoto.id, CasePhoto.case_id, CasePhoto.position, CasePhoto.kind)
        .add_columns(CasePhoto.age_months)
        .where(CasePhoto.case_id.in_(case_ids))
        .where(exists().where(FaceEmbedding.case_photo_id == CasePhoto.id, HAS_VECTOR))
    )
    found: dict[int, list[AgedPhoto]] = {}
    for row in (await session.execute(stmt)).all():
        photo = AgedPhoto(row.id, row.position + 1, row.kind, row.age_months)
        found.setdefault(row.case_id, []).append(photo)
    return found


async def face_links(session: AsyncSession, *, case: Case, threshold: float) -> FaceLinks:
    """Every pair of faces (this case's, a candidate's) within the threshold, by photo."""
    own = (
        await session.execute(
            select(FaceEmbedding.case_photo_id, FaceEmbedding.vector).where(
                FaceEmbedding.case_id == case.id, HAS_VECTOR
            )
        )
    ).all()
    if not own:
        return FaceLinks(pairs={}, photos={})
    stmt = (
        select(FaceEmbedding.id, FaceEmbedding.case_id, FaceEmbedding.case_photo_id)
        .add_columns(FaceEmbedding.vector)
        .join(Case, Case.id == FaceEmbedding.case_id)
        .where(HAS_VECTOR, FaceEmbedding.case_photo_id.is_not(None), _candidate_filter(case))
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return FaceLinks(pairs={}, photos={})
    index = FaceIndex(
        face_ids=list(range(len(rows))),
        case_ids=[int(r.case_id) for r in rows],
        vectors=np.stack([unpack(r.vector) for r in rows]),
    )
    pairs: dict[int, dict[tuple[int, int], float]] = {}
    for pair in index.within(np.stack([unpack(o.vector) for o in own]), max_distance=threshold):
        key = (int(own[pair.query].case_photo_id), int(rows[pair.face_id].case_photo_id))
        links = pairs.setdefault(pair.case_id, {})
        links[key] = max(links.get(key, 0.0), similarity(pair.distance))
    photos = await aged_photos(session, {case.id, *pairs}) if pairs else {}
    return FaceLinks(pairs=pairs, photos=photos)


def _pair(a: Profile, b: Profile, kind: str) -> Pair:
    return (min(a.id, b.id), max(a.id, b.id), kind)


async def _store(
    session: AsyncSession, *, case_id: int, scored: dict[Pair, Scored]
) -> list[CaseMatch]:
    """Upsert the likely pairs (a decided pair keeps its status), drop open pairs no longer likely.

    An upsert, not read-then-insert: the face worker and a moderator's edit may refresh the two
    cases of one pair at the same moment."""
    mine = or_(CaseMatch.case_id == case_id, CaseMatch.other_case_id == case_id)
    stale = delete(CaseMatch).where(mine, CaseMatch.status == OPEN)
    if scored:
        keys = tuple_(CaseMatch.case_id, CaseMatch.other_case_id, CaseMatch.kind)
        stale = stale.where(keys.not_in(list(scored)))
    await session.execute(stale.execution_options(synchronize_session="fetch"))
    if not scored:
        return []
    rows = [
        {
            "case_id": lo,
            "other_case_id": hi,
            "kind": kind,
            "score": result.score,
            "reasons": result.reasons,
            "status": OPEN,
            "created_at": utcnow(),
        }
        for (lo, hi, kind), result in scored.items()
    ]
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(CaseMatch)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["case_id", "other_case_id", "kind"],
            set_={"score": stmt.excluded.score, "reasons": stmt.excluded.reasons},
        ),
        rows,
    )
    query = (
        select(CaseMatch)
        .where(
            mine,
            tuple_(CaseMatch.case_id, CaseMatch.other_case_id, CaseMatch.kind).in_(list(scored)),
        )
        .order_by(CaseMatch.score.desc(), CaseMatch.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())
