"""Face rows in the database: vectors as float32 bytes, 'looked, found none' markers, and queries.

A photo that has been looked at always has at least one face_embeddings row. When no face was
found (or the copy could not be read) that row is a marker: an empty vector and a box saying why.
So a photo is never examined twice, across restarts too, without a new column; every reader of
vectors filters markers out with HAS_VECTOR.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.public import PUBLIC_STATUSES
from core.faces.engine import VECTOR_DIM, Face
from core.faces.index import FaceIndex, as_matrix
from storage.models import Case, CasePhoto, FaceEmbedding, TipPhoto

VECTOR_BYTES: Final = VECTOR_DIM * 4
# The cases a face may be matched with: the ones moderators have verified or that are active.
ACTIVE_STATUSES: Final = PUBLIC_STATUSES
HAS_VECTOR: Final[ColumnElement[bool]] = func.length(FaceEmbedding.vector) == VECTOR_BYTES
_DTYPE: Final = np.dtype("<f4")  # little-endian float32, whatever the machine


def pack(vector: npt.ArrayLike) -> bytes:
    """A 128-d vector as the 512 bytes stored in FaceEmbedding.vector."""
    row = as_matrix(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
    return bytes(row.astype(_DTYPE).tobytes())


def unpack(data: bytes) -> npt.NDArray[np.float32]:
    """The vector stored in FaceEmbedding.vector."""
    if len(data) != VECTOR_BYTES:
        raise ValueError(f"a face vector is {VECTOR_BYTES} bytes, not {len(data)}")
    return np.frombuffer(data, dtype=_DTYPE).astype(np.float32)


def face_rows(
    faces: Sequence[Face],
    *,
    tip_photo_id: int | None = None,
    case_photo_id: int | None = None,
    case_id: int | None = None,
) -> list[FaceEmbedding]:
    """One row per face, or a single 'none found' marker when there is none."""
    if not faces:
        return [marker_row(tip_photo_id, case_photo_id, case_id, reason="no_face")]
    return [
        FaceEmbedding(
            tip_photo_id=tip_photo_id,
            case_photo_id=case_photo_id,
            case_id=case_id,
            vector=pack(face.vector),
            box={**face.box.as_dict(), "score": round(face.score, 3)},
        )
        for face in faces
    ]


def marker_row(
    tip_photo_id: int | None, case_photo_id: int | None, case_id: int | None, *, reason: str
) -> FaceEmbedding:
    """The row saying a photo was looked at and gave no face (reason: no_face, unreadable…)."""
    return FaceEmbedding(
        tip_photo_id=tip_photo_id,
        case_photo_id=case_photo_id,
        case_id=case_id,
        vector=b"",
        box={"faces": 0, "reason": reason},
    )


async def list_tip_photos_to_embed(session: AsyncSession, *, limit: int) -> Sequence[TipPhoto]:
    """Sanitised tip photos that have not been looked at yet, oldest first."""
    looked = exists().where(FaceEmbedding.tip_photo_id == TipPhoto.id)
    stmt = (
        select(TipPhoto)
        .where(TipPhoto.status == "processed", TipPhoto.display_sha256.is_not(None), ~looked)
        .order_by(TipPhoto.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def list_case_photos_to_embed(session: AsyncSession, *, limit: int) -> Sequence[CasePhoto]:
    """Sanitised ("ready") case photos that have not been looked at yet, oldest first."""
    looked = exists().where(FaceEmbedding.case_photo_id == CasePhoto.id)
    stmt = (
        select(CasePhoto)
        .where(CasePhoto.status == "ready", ~looked)
        .order_by(CasePhoto.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def has_faces_recorded(
    session: AsyncSession, *, tip_photo_id: int | None = None, case_photo_id: int | None = None
) -> bool:
    """Whether a photo has been looked at already (faces or a marker)."""
    if tip_photo_id is not None:
        condition = FaceEmbedding.tip_photo_id == tip_photo_id
    else:
        condition = FaceEmbedding.case_photo_id == case_photo_id
    return bool(await session.scalar(select(exists().where(condition))))


def _active_case_faces() -> ColumnElement[bool]:
    return (
        FaceEmbedding.case_id.is_not(None)
        & FaceEmbedding.case_photo_id.is_not(None)
        & HAS_VECTOR
        & FaceEmbedding.case_id.in_(select(Case.id).where(Case.status.in_(ACTIVE_STATUSES)))
    )


async def list_active_case_face_ids(session: AsyncSession) -> frozenset[int]:
    """The ids of every face on a photo of an active case (cheap: no vectors)."""
    ids = await session.scalars(select(FaceEmbedding.id).where(_active_case_faces()))
    return frozenset(ids)


async def load_case_index(session: AsyncSession, *, case_id: int | None = None) -> FaceIndex:
    """A FaceIndex of every face on a photo of an active case (or of one case, if active)."""
    stmt = (
        select(FaceEmbedding.id, FaceEmbedding.case_id, FaceEmbedding.vector)
        .where(_active_case_faces())
        .order_by(FaceEmbedding.id)
    )
    if case_id is not None:
        stmt = stmt.where(FaceEmbedding.case_id == case_id)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return FaceIndex.empty()
    return FaceIndex(
        face_ids=[row.id for row in rows],
        case_ids=[int(row.case_id) for row in rows],
        vectors=np.stack([unpack(row.vector) for row in rows]),
    )


async def active_case_ids(session: AsyncSession, case_ids: set[int]) -> set[int]:
    """The cases among case_ids that are active now (an index may be a few seconds old)."""
    if not case_ids:
        return set()
    stmt = select(Case.id).where(Case.id.in_(case_ids), Case.status.in_(ACTIVE_STATUSES))
    return set(await session.scalars(stmt))


async def tip_faces(
    session: AsyncSession, *, tip_id: int | None = None, after_id: int = 0, limit: int | None = None
) -> tuple[list[int], list[int], npt.NDArray[np.float32]]:
    """Tip faces (ids, tip ids, vectors) in id order: one tip's, or a page of all of them."""
    stmt = (
        select(FaceEmbedding.id, TipPhoto.tip_id, FaceEmbedding.vector)
        .join(TipPhoto, TipPhoto.id == FaceEmbedding.tip_photo_id)
        .where(HAS_VECTOR, FaceEmbedding.id > after_id)
        .order_by(FaceEmbedding.id)
    )
    if tip_id is not None:
        stmt = stmt.where(TipPhoto.tip_id == tip_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    vectors = np.stack([unpack(r.vector) for r in rows]) if rows else as_matrix([])
    return [r.id for r in rows], [r.tip_id for r in rows], vectors


async def iter_tip_faces(
    session: AsyncSession, *, page: int
) -> AsyncIterator[tuple[list[int], list[int], npt.NDArray[np.float32]]]:
    """Every tip face, a page at a time (keyset pagination, so memory stays bounded)."""
    after = 0
    while True:
        ids, tips, vectors = await tip_faces(session, after_id=after, limit=page)
        if not ids:
            return
        yield ids, tips, vectors
        after = ids[-1]
