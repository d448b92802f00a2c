"""An in-memory matrix of face vectors, searched by Euclidean distance (dlib's metric) with numpy.

100,000 faces take 51 MB and one search is a single matrix-vector product (see bench/faces.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from core.faces.engine import VECTOR_DIM

# dlib's same-person line: on LFW, pairs closer than this are the same person 99.38% of the time.
DEFAULT_THRESHOLD: Final = 0.6
# Similarity is 1 - distance / SIMILARITY_SPAN: 1.0 identical, 0.5 at dlib's 0.6 line, 0 from 1.2.
SIMILARITY_SPAN: Final = 2 * DEFAULT_THRESHOLD
# Distances per block in a batch comparison (4M float32 = 16 MB), so memory stays bounded.
_BLOCK: Final = 4_000_000
_SPARE: Final = 8
_SLACK: Final = 1e-3  # squared-distance margin for float32 rounding; the exact check follows

Vectors = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]


class Hit(NamedTuple):
    """One indexed face close to a query: its id, its case and how far it is."""

    face_id: int
    case_id: int
    distance: float


class Pair(NamedTuple):
    """A query row and an indexed face within the distance asked for."""

    query: int
    face_id: int
    case_id: int
    distance: float


def similarity(distance: float) -> float:
    """A 0..1 figure for display: 1 - distance / 1.2, clipped (0.5 is dlib's 0.6 line)."""
    return float(min(1.0, max(0.0, 1.0 - distance / SIMILARITY_SPAN)))


def as_matrix(vectors: Iterable[npt.ArrayLike] | npt.ArrayLike) -> Vectors:
    """Vectors as a C-contiguous float32 N×128 matrix (raises ValueError on any other shape)."""
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, VECTOR_DIM)
    if matrix.ndim != 2 or matrix.shape[1] != VECTOR_DIM:
        raise ValueError(f"expected N×{VECTOR_DIM} face vectors, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("face vectors must be finite")
    return matrix


class FaceIndex:
    """Face vectors with their face ids and case ids; immutable, so safe to share between tasks."""

    def __init__(
        self, *, face_ids: Sequence[int], case_ids: Sequence[int], vectors: npt.ArrayLike
    ) -> None:
        self._vectors = as_matrix(vectors)
        self._face_ids: Ids = np.asarray(face_ids, dtype=np.int64).reshape(-1)
        self._case_ids: Ids = np.asarray(case_ids, dtype=np.int64).reshape(-1)
        count = len(self._vectors)
        if len(self._face_ids) != count or len(self._case_ids) != count:
            raise ValueError("face_ids, case_ids and vectors must have the same length")
        self._norms = np.einsum("ij,ij->i", self._vectors, self._vectors)
        self._vectors.setflags(write=False)

    @classmethod
    def empty(cls) -> FaceIndex:
        """An index with no faces."""
        return cls(face_ids=[], case_ids=[], vectors=np.empty((0, VECTOR_DIM), np.float32))

    def __len__(self) -> int:
        return len(self._face_ids)

    @property
    def face_ids(self) -> frozenset[int]:
        """The ids of the indexed faces."""
        return frozenset(int(i) for i in self._face_ids)

    def subset(self, face_ids: Iterable[int]) -> FaceIndex:
        """A smaller index holding only the given faces (those present here)."""
        wanted = np.isin(self._face_ids, np.fromiter(face_ids, dtype=np.int64))
        return FaceIndex(
            face_ids=self._face_ids[wanted].tolist(),
            case_ids=self._case_ids[wanted].tolist(),
            vectors=self._vectors[wanted],
        )

    def search(
        self, vector: npt.ArrayLike, *, k: int = 5, max_distance: float = DEFAULT_THRESHOLD
    ) -> list[Hit]:
        """The k nearest faces within max_distance, nearest first."""
        query = as_matrix(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        if k <= 0 or not len(self):
            return []
        # One pass over the matrix (memory-bound: 51 MB for 100,000 faces), then work on a few.
        squared = self._norms - 2.0 * (self._vectors @ query) + float(query @ query)
        candidates = np.flatnonzero(squared <= max_distance**2 + _SLACK)
        # The expanded formula loses a little precision, so a few spare candidates are measured
        # exactly and the k nearest of those kept.
        wanted = k + _SPARE
        if len(candidates) > wanted:
            candidates = candidates[np.argpartition(squared[candidates], wanted - 1)[:wanted]]
        exact = np.linalg.norm(self._vectors[candidates] - query, axis=1)
        order = np.argsort(exact, kind="stable")[:k]
        return [
            Hit(int(self._face_ids[i]), int(self._case_ids[i]), float(d))
            for i, d in zip(candidates[order], exact[order], strict=True)
            if d <= max_distance
        ]

    def within(self, vectors: npt.ArrayLike, *, max_distance: float) -> list[Pair]:
        """Every (query row, indexed face) pair within max_distance, in query then id order."""
        queries = as_matrix(vectors)
        if not len(self) or not len(queries):
            return []
        step = max(1, _BLOCK // len(self))
        pairs: list[Pair] = []
        margin = max_distance**2 + _SLACK
        for start in range(0, len(queries), step):
            block = queries[start : start + step]
            rows, cols = np.nonzero(self._squared_distances(block) <= margin)
            exact = np.linalg.norm(block[rows] - self._vectors[cols], axis=1)
            pairs.extend(
                Pair(int(r) + start, int(self._face_ids[c]), int(self._case_ids[c]), float(d))
                for r, c, d in zip(rows, cols, exact, strict=True)
                if d <= max_distance
            )
        return pairs

    def _squared_distances(self, queries: Vectors) -> npt.NDArray[np.float32]:
        """|q - v|² = |q|² + |v|² - 2 q·v for every query and indexed vector, clipped at 0."""
        cross: npt.NDArray[np.float32] = queries @ self._vectors.T
        squared: npt.NDArray[np.float32] = (
            np.einsum("ij,ij->i", queries, queries)[:, None] + self._norms[None, :]
        )
        squared -= 2.0 * cross
        np.maximum(squared, 0.0, out=squared)
        return squared
