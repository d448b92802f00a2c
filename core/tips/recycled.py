"""Recycled images: a tip photo seen before where it cannot be a new sighting.

A scammer sends back a photo from another family's poster, or the photo they already sent about
another child. So a tip photo is compared with:
- every photo of every case that was ever public (verified at some time: missing or found, still
  open or closed), except the tip's own case (its own photo sent back is the `case_photo` flag);
- the photos of earlier tips about another case (the tip photo index of core/dedup/phash.py).
A near-duplicate is within the clustering's photo distance (Hamming bits of the 64-bit phash).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.dedup import PhashIndex
from core.dedup.phash import to_unsigned
from storage.models import Case, CasePhoto, Tip, TipPhoto

MAX_SOURCES = 5


async def _case_sources(
    session: AsyncSession, *, tip: Tip, phashes: Sequence[int], distance: int
) -> list[str]:
    """Refs of other ever-public cases with a photo near one of these hashes."""
    stmt = (
        select(Case.ref, CasePhoto.phash)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.phash.is_not(None), Case.verified_at.is_not(None))
    )
    if tip.case_id is not None:
        stmt = stmt.where(Case.id != tip.case_id)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return []
    # One XOR + popcount over every case photo: a registry holds thousands, not millions.
    stored = np.array([to_unsigned(row.phash) for row in rows], dtype=np.uint64)
    near = np.zeros(len(rows), dtype=bool)
    for phash in phashes:
        near |= np.bitwise_count(stored ^ np.uint64(to_unsigned(phash))) <= distance
    return list(dict.fromkeys(f"case {rows[int(i)].ref}" for i in np.flatnonzero(near)))


async def _tip_sources(
    session: AsyncSession, *, tip: Tip, phashes: Mapping[int, int], index: PhashIndex, distance: int
) -> list[str]:
    """Refs of earlier tips about another case with a photo near one of this tip's."""
    if tip.case_id is None:
        return []  # a tip about no case yet is clustered with look-alikes, not judged
    photo_ids = {
        match.key
        for phash in phashes.values()
        for match in index.search(phash, max_distance=distance)
        if match.key not in phashes
    }
    if not photo_ids:
        return []
    stmt = (
        select(Tip.ref)
        .join(TipPhoto, TipPhoto.tip_id == Tip.id)
        .where(TipPhoto.id.in_(photo_ids), Tip.id < tip.id)
        .where(Tip.case_id.is_not(None), Tip.case_id != tip.case_id)
        .order_by(Tip.id)
    )
    return [f"tip {ref}" for ref in dict.fromkeys((await session.scalars(stmt)).all())]


async def recycled_from(
    session: AsyncSession, *, tip: Tip, phashes: Mapping[int, int], index: PhashIndex, distance: int
) -> tuple[str, ...]:
    """Where this tip's photos (photo id -> phash) were seen before: "case REF", "tip REF"."""
    if not phashes:
        return ()
    hashes = list(phashes.values())
    cases = await _case_sources(session, tip=tip, phashes=hashes, distance=distance)
    tips = await _tip_sources(session, tip=tip, phashes=phashes, index=index, distance=distance)
    return tuple([*cases, *tips][:MAX_SOURCES])
