"""Matching cases with each other: found people with missing children, and duplicate records.

Candidates come from SQL (not withdrawn; sex compatible when both are known; of the other kind for
a found-match, of the same kind for a duplicate), are scored in Python (core/case_match_scoring.py)
and kept as CaseMatch rows for moderators: a pair once (the lower case id first), its score and
reasons refreshed, a moderator's confirmation or dismissal kept. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, false, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.case_match_scoring import CaseFields, Profile, Scored, profile, score_pair
from core.faces.index import DEFAULT_THRESHOLD, FaceIndex, similarity
from core.faces.records import HAS_VECTOR, unpack
from storage.models import Case, CaseMatch, FaceEmbedding
from storage.types import utcnow

# Beyond this many matches for one case the rest are noise (a common nickname).
MAX_MATCHES: Final = 50
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
        faces = await face_similarities(session, case=case, threshold=face_threshold)
        for row in await _candidates(session, case=case, face_case_ids=set(faces)):
            other = profile(row)
            result = score_pair(me, other, face=faces.get(other.id), now=now)
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


def _same_kind_filter(case: Case) -> ColumnElement[bool]:
    """A duplicate needs the same birth date or last-seen day (or a face, added separately)."""
    options: list[ColumnElement[bool]] = []
    if case.birth_date is not None:
        options.append(Case.birth_date == case.birth_date)
    if case.last_seen_at is not None:
        day = timedelta(days=1)
        options.append(Case.last_seen_at.between(case.last_seen_at - day, case.last_seen_at + day))
    return and_(Case.kind == case.kind, or_(false(), *options))


async def _candidates(
    session: AsyncSession, *, case: Case, face_case_ids: set[int]
) -> Sequence[CaseFields]:
    """Rows of the cases to score (only the columns matching reads)."""
    other_kind = Case.kind != case.kind
    wanted = [other_kind, _same_kind_filter(case)]
    if face_case_ids:
        wanted.append(Case.id.in_(face_case_ids))
    stmt = select(*_FIELDS).where(_candidate_filter(case), or_(*wanted))
    return (await session.execute(stmt)).all()


async def face_similarities(
    session: AsyncSession, *, case: Case, threshold: float
) -> dict[int, float]:
    """For each candidate case with a face within threshold of one of this case's faces: the best
    similarity (0..1)."""
    own = (
        await session.scalars(
            select(FaceEmbedding.vector).where(FaceEmbedding.case_id == case.id, HAS_VECTOR)
        )
    ).all()
    if not own:
        return {}
    stmt = (
        select(FaceEmbedding.id, FaceEmbedding.case_id, FaceEmbedding.vector)
        .join(Case, Case.id == FaceEmbedding.case_id)
        .where(HAS_VECTOR, FaceEmbedding.case_photo_id.is_not(None), _candidate_filter(case))
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return {}
    index = FaceIndex(
        face_ids=[r.id for r in rows],
        case_ids=[int(r.case_id) for r in rows],
        vectors=np.stack([unpack(r.vector) for r in rows]),
    )
    best: dict[int, float] = {}
    for pair in index.within(np.stack([unpack(v) for v in own]), max_distance=threshold):
        best[pair.case_id] = max(best.get(pair.case_id, 0.0), similarity(pair.distance))
    return best


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
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(CaseMatch)
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
