"""An in-memory multi-index hash table for near-duplicate 64-bit perceptual hashes.

A hash is cut into four 16-bit chunks. If two hashes differ in at most r bits, then (pigeonhole,
with r = 4q + a) one of the first a + 1 chunks differs in at most q bits, or one of the others in at
most q - 1. So a search probes each chunk's table at every value within that radius (137 probes of
a 16-bit chunk at radius 2) and checks the few thousand candidates with one XOR + popcount.

Each chunk table is a CSR layout: positions sorted by chunk value, a copy of the hashes in that
order (so a probe reads contiguous memory), and 65,537 offsets. Additions go to a small buffer that
is searched by brute force and folded into the tables when it grows; removals are tombstones.
1M hashes cost 64 MiB of arrays (bench/dedup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

CHUNKS = 4
CHUNK_BITS = 16
CHUNK_VALUES = 1 << CHUNK_BITS
DEFAULT_MAX_DISTANCE = 10
MAX_SEARCH_DISTANCE = 16  # beyond this the probe count explodes; brute force would be better

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class HashMatch:
    """A stored key whose hash is within the asked Hamming distance."""

    key: int
    distance: int


def to_unsigned(phash: int) -> int:
    """A signed BIGINT phash (as stored) back to its unsigned 64-bit value."""
    return phash & 0xFFFF_FFFF_FFFF_FFFF


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes (signed or unsigned)."""
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()


def _masks(radius: int) -> npt.NDArray[np.int64]:
    """Every 16-bit XOR mask with at most `radius` bits set."""
    masks = [0]
    for bits in range(1, radius + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(CHUNK_BITS), bits))
    return np.array(masks, dtype=np.int64)


def _as_u64(values: Any) -> U64:
    array = np.asarray(values)
    if array.dtype == np.uint64:
        return array
    return np.asarray(array, dtype=np.int64).view(np.uint64)


class PhashIndex:
    """Keys (photo ids) by 64-bit perceptual hash; finds every key within a Hamming radius."""

    def __init__(self, *, max_distance: int = DEFAULT_MAX_DISTANCE, buffer_limit: int = 8192):
        if not 0 <= max_distance <= MAX_SEARCH_DISTANCE:
            raise ValueError(f"max_distance must be 0..{MAX_SEARCH_DISTANCE}")
        self.max_distance = max_distance
        self.buffer_limit = buffer_limit
        self._hashes: U64 = np.empty(0, dtype=np.uint64)
        self._keys: I64 = np.empty(0, dtype=np.int64)
        self._alive: npt.NDArray[np.bool_] = np.empty(0, dtype=bool)
        self._order: list[npt.NDArray[np.uint32]] = []
        self._sorted: list[U64] = []
        self._offsets: list[npt.NDArray[np.int64]] = []
        self._dead = 0
        self._buffer: dict[int, int] = {}
        self._buffer_arrays: tuple[I64, U64] | None = None
        self._mask_cache: dict[int, npt.NDArray[np.int64]] = {}
        self._rebuild(self._keys, self._hashes)

    @classmethod
    def build(
        cls, keys: Any, hashes: Any, *, max_distance: int = DEFAULT_MAX_DISTANCE
    ) -> PhashIndex:
        """An index over parallel arrays of keys and (signed or unsigned) 64-bit hashes."""
        index = cls(max_distance=max_distance)
        key_array = np.asarray(keys, dtype=np.int64)
        hash_array = _as_u64(hashes)
        if key_array.shape != hash_array.shape:
            raise ValueError("keys and hashes must have the same length")
        # A key given twice keeps its last hash, as add() would.
        _, last = np.unique(key_array[::-1], return_index=True)
        keep = np.sort(len(key_array) - 1 - last)
        index._rebuild(key_array[keep], hash_array[keep])
        return index

    def __len__(self) -> int:
        return len(self._keys) - self._dead + len(self._buffer)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and (key in self._buffer or self._position(key) is not None)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index arrays (the buffer's Python objects not counted)."""
        arrays = [self._hashes, self._keys, self._alive]
        arrays += [*self._order, *self._sorted, *self._offsets]
        return sum(a.nbytes for a in arrays)

    def add(self, key: int, phash: int) -> None:
        """Store or replace the hash of a key."""
        self._kill(key)
        self._buffer[key] = to_unsigned(phash)
        self._buffer_arrays = None
        if len(self._buffer) >= self.buffer_limit:
            self.compact()

    def remove(self, key: int) -> None:
        """Forget a key (no error when it is unknown)."""
        self._buffer.pop(key, None)
        self._buffer_arrays = None
        self._kill(key)

    def compact(self) -> None:
        """Fold the buffer into the chunk tables and drop removed entries."""
        alive = self._alive
        keys = np.concatenate([self._keys[alive], np.fromiter(self._buffer, dtype=np.int64)])
        added = np.fromiter(self._buffer.values(), dtype=np.uint64, count=len(self._buffer))
        self._rebuild(keys, np.concatenate([self._hashes[alive], added]))
        self._buffer = {}
        self._buffer_arrays = None

    def search(self, phash: int, *, max_distance: int | None = None) -> list[HashMatch]:
        """Every key within max_distance bits of phash, nearest first (then by key)."""
        radius = self.max_distance if max_distance is None else max_distance
        if not 0 <= radius <= MAX_SEARCH_DISTANCE:
            raise ValueError(f"max_distance must be 0..{MAX_SEARCH_DISTANCE}")
        query = to_unsigned(phash)
        hits = self._table_hits(query, radius)
        # A position reached through two chunks is counted once.
        hits = np.sort(hits)
        hits = hits[np.concatenate([hits[:1] >= 0, hits[1:] != hits[:-1]])]
        hits = hits[self._alive[hits]]
        buffer_keys, buffer_hashes = self._buffered()
        buffer_distances = np.bitwise_count(buffer_hashes ^ np.uint64(query))
        near = buffer_distances <= radius
        keys = np.concatenate([self._keys[hits], buffer_keys[near]])
        distances = np.concatenate(
            [np.bitwise_count(self._hashes[hits] ^ np.uint64(query)), buffer_distances[near]]
        )
        order = np.lexsort((keys, distances))
        pairs = zip(keys[order].tolist(), distances[order].tolist(), strict=True)
        return [HashMatch(key=k, distance=d) for k, d in pairs]

    def _table_hits(self, query: int, radius: int) -> Positions:
        """Positions within radius, found through the chunk tables (duplicates possible)."""
        quotient, remainder = divmod(radius, CHUNKS)
        found: list[Positions] = [np.empty(0, dtype=np.intp)]
        for chunk in range(CHUNKS):
            chunk_radius = quotient if chunk <= remainder else quotient - 1
            if chunk_radius < 0:
                continue
            value = (query >> (CHUNK_BITS * chunk)) & (CHUNK_VALUES - 1)
            probes = self._probe_masks(chunk_radius) ^ value
            starts = self._offsets[chunk][probes]
            lengths = self._offsets[chunk][probes + 1] - starts
            total = int(lengths.sum())
            if total == 0:
                continue
            # The ranges [start, start + length) side by side, without a Python loop; each range
            # is contiguous in the chunk's sorted copy of the hashes, so reading it is cheap.
            slots = np.arange(total) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
            near = np.bitwise_count(self._sorted[chunk][slots] ^ np.uint64(query)) <= radius
            found.append(self._order[chunk][slots[near]].astype(np.intp))
        return np.concatenate(found)

    def _probe_masks(self, radius: int) -> npt.NDArray[np.int64]:
        masks = self._mask_cache.get(radius)
        if masks is None:
            masks = self._mask_cache[radius] = _masks(radius)
        return masks

    def _buffered(self) -> tuple[I64, U64]:
        if self._buffer_arrays is None:
            keys = np.fromiter(self._buffer, dtype=np.int64, count=len(self._buffer))
            hashes = np.fromiter(self._buffer.values(), dtype=np.uint64, count=len(self._buffer))
            self._buffer_arrays = (keys, hashes)
        return self._buffer_arrays

    def _position(self, key: int) -> int | None:
        at = int(np.searchsorted(self._keys, key))  # positions are in key order
        if at < len(self._keys) and self._keys[at] == key and self._alive[at]:
            return at
        return None

    def _kill(self, key: int) -> None:
        position = self._position(key)
        if position is not None:
            self._alive[position] = False
            self._dead += 1

    def _rebuild(self, keys: I64, hashes: U64) -> None:
        by_key = np.argsort(keys, kind="stable")
        self._keys = np.ascontiguousarray(keys[by_key], dtype=np.int64)
        self._hashes = np.ascontiguousarray(hashes[by_key], dtype=np.uint64)
        self._alive = np.ones(len(keys), dtype=bool)
        del by_key
        self._dead = 0
        self._order, self._sorted, self._offsets = [], [], []
        for chunk in range(CHUNKS):
            shifted = self._hashes >> np.uint64(CHUNK_BITS * chunk)
            values = (shifted & np.uint64(CHUNK_VALUES - 1)).astype(np.uint16)
            order = np.argsort(values, kind="stable").astype(np.uint32)
            self._order.append(order)
            self._sorted.append(self._hashes[order])
            counts = np.bincount(values, minlength=CHUNK_VALUES)
            self._offsets.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
