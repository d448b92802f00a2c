"""Use cases: record the faces in a photo, and how alike tip faces and active-case faces are.

A match is only a row for a moderator to judge, never a decision: nothing here changes a tip, a
case or a score. Every use case commits explicitly, and running one again adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Final

from PIL import Image
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.faces import records
from core.faces.engine import Embedder
from core.faces.index import DEFAULT_THRESHOLD, FaceIndex, Pair, similarity
from storage.models import CasePhoto, FaceEmbedding, FaceMatch, TipPhoto
from storage.types import utcnow

log = logging.getLogger("tipline.faces")

# Case faces kept per tip face when a tip arrives: more than this many cases within the threshold
# means a blurred or tiny face, and a flood of rows would bury the real leads.
DEFAULT_K: Final = 10
# Tip faces compared per page when a case joins (each page is one matrix product).
TIP_PAGE: Final = 5_000
_UNREADABLE = (OSError, ValueError, Image.DecompressionBombError)


async def embed_tip_photo(
    session: AsyncSession, engine: Embedder, *, tip_photo: TipPhoto, display_bytes: bytes
) -> list[FaceEmbedding]:
    """Find and store the faces in a tip photo's display copy (once); returns the face rows."""
    return await _embed(
        session, engine, display_bytes, tip_photo_id=tip_photo.id, case_photo_id=None, case_id=None
    )


async def embed_case_photo(
    session: AsyncSession, engine: Embedder, *, case_photo: CasePhoto, display_bytes: bytes
) -> list[FaceEmbedding]:
    """Find and store the faces in a case photo's clean copy (once); returns the face rows."""
    return await _embed(
        session,
        engine,
        display_bytes,
        tip_photo_id=None,
        case_photo_id=case_photo.id,
        case_id=case_photo.case_id,
    )


async def mark_photo_unusable(
    session: AsyncSession,
    *,
    reason: str,
    tip_photo_id: int | None = None,
    case_photo_id: int | None = None,
    case_id: int | None = None,
) -> None:
    """Record that a photo's copy could not be used (missing, corrupt), so it is not retried."""
    if await records.has_faces_recorded(
        session, tip_photo_id=tip_photo_id, case_photo_id=case_photo_id
    ):
        return
    session.add(records.marker_row(tip_photo_id, case_photo_id, case_id, reason=reason))
    await session.commit()


async def _embed(
    session: AsyncSession,
    engine: Embedder,
    image: bytes,
    *,
    tip_photo_id: int | None,
    case_photo_id: int | None,
    case_id: int | None,
) -> list[FaceEmbedding]:
    where = {"tip_photo_id": tip_photo_id, "case_photo_id": case_photo_id}
    if await records.has_faces_recorded(session, **where):
        return []
    try:
        faces = await asyncio.to_thread(engine.embed, image)
    except _UNREADABLE as exc:
        log.warning("face copy %s unreadable: %s", where, exc)
        rows = [records.marker_row(tip_photo_id, case_photo_id, case_id, reason="unreadable")]
    else:
        rows = records.face_rows(
            faces, tip_photo_id=tip_photo_id, case_photo_id=case_photo_id, case_id=case_id
        )
    session.add_all(rows)
    await session.commit()
    return [row for row in rows if row.vector]


async def match_tip_faces(
    session: AsyncSession,
    *,
    tip_id: int,
    index: FaceIndex,
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_K,
) -> int:
    """Compare every face of a tip with active cases' faces; returns how many matches are new."""
    ids, _, vectors = await records.tip_faces(session, tip_id=tip_id)
    pairs = [
        Pair(row, hit.face_id, hit.case_id, hit.distance)
        for row, vector in enumerate(vectors)
        for hit in index.search(vector, k=k, max_distance=threshold)
    ]
    added = await _record(session, pairs, tip_face_ids=ids, tip_ids=[tip_id] * len(ids))
    await session.commit()
    return added


async def match_case_against_tips(
    session: AsyncSession, *, case_id: int, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Compare an active case's faces with every tip face so far; returns how many are new."""
    faces = await records.load_case_index(session, case_id=case_id)
    return await match_faces_against_tips(session, faces=faces, threshold=threshold)


async def match_faces_against_tips(
    session: AsyncSession, *, faces: FaceIndex, threshold: float = DEFAULT_THRESHOLD
) -> int:
    """Compare some active-case faces with every tip face, in pages; returns how many are new."""
    added = 0
    if len(faces):
        async for ids, tips, vectors in records.iter_tip_faces(session, page=TIP_PAGE):
            pairs = faces.within(vectors, max_distance=threshold)
            added += await _record(session, pairs, tip_face_ids=ids, tip_ids=tips)
    await session.commit()
    return added


async def _record(
    session: AsyncSession, pairs: Iterable[Pair], *, tip_face_ids: list[int], tip_ids: list[int]
) -> int:
    """Insert the pairs whose case is active now; a pair already recorded is left as it is."""
    pairs = list(pairs)
    active = await records.active_case_ids(session, {pair.case_id for pair in pairs})
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "tip_face_id": tip_face_ids[pair.query],
            "case_face_id": pair.face_id,
            "tip_id": tip_ids[pair.query],
            "case_id": pair.case_id,
            "distance": pair.distance,
            "similarity": similarity(pair.distance),
            "created_at": now,
        }
        for pair in pairs
        if pair.case_id in active
    ]
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(FaceMatch).on_conflict_do_nothing(index_elements=["tip_face_id", "case_face_id"])
    result = await session.execute(stmt.returning(FaceMatch.id), rows)
    return len(result.all())
