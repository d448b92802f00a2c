"""The evidence worker: dedupes, clusters and scores tips once their photos are processed.

A tip is due when none of its files is still quarantined and: it was never evaluated (found each
round through the score index, since an unevaluated tip has score 0 and evaluated_at NULL; a full
scan for evaluated_at IS NULL every FULL_SCAN_EVERY rounds also catches scored tips whose
evaluated_at was reset to ask for a re-evaluation); or a file added later left quarantine; or a
face match for it was written after its evaluation. At start the worker builds
the phash index from every processed photo and catches up with tips that went stale while it was
down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.dedup import PhashIndex
from core.tips.evaluate import DEFAULT_EVIDENCE_SETTINGS, EvidenceSettings, evaluate_tip
from storage.models import FaceMatch, Tip, TipPhoto
from storage.types import utcnow
from workers.rounds import run_rounds

log = logging.getLogger("tipline.evidence")

LOAD_PAGE = 50_000
FACE_SCAN_LIMIT = 1000
FULL_SCAN_EVERY = 15


def _quarantined(tip_id: Any) -> Exists:
    return exists().where(TipPhoto.tip_id == tip_id, TipPhoto.status == "quarantined")


async def load_phash_index(session: AsyncSession, *, max_distance: int) -> PhashIndex:
    """An index over every processed photo's phash, read in pages so memory stays flat."""
    keys: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    last = 0
    while True:
        # Walk the primary key and filter here: a status filter in SQL makes SQLite prefer the
        # status index and sort every page.
        stmt = select(TipPhoto.id, TipPhoto.phash, TipPhoto.status).where(TipPhoto.id > last)
        rows = (await session.execute(stmt.order_by(TipPhoto.id).limit(LOAD_PAGE))).all()
        if not rows:
            break
        last = rows[-1][0]
        kept = [(i, h) for i, h, status in rows if h is not None and status == "processed"]
        page = np.array(kept, dtype=np.int64).reshape(-1, 2)
        keys.append(page[:, 0].copy())
        hashes.append(page[:, 1].copy())
    if not keys:
        return PhashIndex(max_distance=max_distance)
    # Sorting a million hashes takes about a second: off the event loop the web and bot share.
    return await asyncio.to_thread(
        PhashIndex.build, np.concatenate(keys), np.concatenate(hashes), max_distance=max_distance
    )


class EvidenceWorker:
    """Evaluates due tips (see the module docstring), oldest first, one session per tip."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
        batch_size: int = 50,
        idle_interval: float = 2.0,
        max_failures: int = 3,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.max_failures = max_failures
        self.clock = clock
        self.index: PhashIndex | None = None
        self._queue: set[int] = set()
        self._waiting: dict[int, int] = {}  # quarantined photo id -> tip id
        self._face_mark = 0
        self._failures: dict[int, int] = {}
        self._rounds = 0

    async def start(self) -> None:
        """Build the phash index and queue the tips that went stale while nobody watched."""
        async with self.sessions() as session:
            distance = self.settings.clusters.photo_distance
            self.index = await load_phash_index(session, max_distance=distance)
            self._queue |= set(await _stale_tip_ids(session))
            self._face_mark = int(await session.scalar(select(func.max(FaceMatch.id))) or 0)
        log.info("evidence worker: %d photo hashes indexed", len(self.index))

    async def run_forever(self) -> None:
        """Evaluate until cancelled."""
        await run_rounds(self.run_once, pause=self.idle_interval, log=log, name="evidence")

    async def run_once(self) -> int:
        """Evaluate the tips due now (up to batch_size); returns how many were evaluated."""
        if self.index is None:
            await self.start()
        assert self.index is not None
        due = sorted(await self._due())[: self.batch_size]
        done = 0
        for tip_id in due:
            self._queue.discard(tip_id)
            done += await self._evaluate(tip_id, self.index)
        return done

    async def _evaluate(self, tip_id: int, index: PhashIndex) -> int:
        try:
            async with self.sessions() as session:
                now = self.clock()
                await evaluate_tip(
                    session, tip_id=tip_id, phash_index=index, now=now, settings=self.settings
                )
        except Exception:
            self._failures[tip_id] = self._failures.get(tip_id, 0) + 1
            log.exception("tip %s not evaluated (attempt %d)", tip_id, self._failures[tip_id])
            return 0
        self._failures.pop(tip_id, None)
        return 1

    async def _due(self) -> set[int]:
        given_up = {t for t, n in self._failures.items() if n >= self.max_failures}
        async with self.sessions() as session:
            waiting = await _quarantined_photos(session)
            released = {t for p, t in self._waiting.items() if p not in waiting}
            self._waiting = waiting
            unevaluated: ColumnElement[bool] = Tip.evaluated_at.is_(None)
            if self._rounds % FULL_SCAN_EVERY:
                unevaluated = unevaluated & (Tip.score == 0)  # through ix_tips_score
            self._rounds += 1
            new = await _unevaluated_tip_ids(
                session, unevaluated, limit=self.batch_size, skip=given_up
            )
            faced = await self._new_face_matches(session)
        blocked = set(waiting.values())
        return (self._queue | released | new | faced) - blocked - given_up

    async def _new_face_matches(self, session: AsyncSession) -> set[int]:
        """Tips with a face match written after their evaluation (face worker runs later)."""
        stmt = (
            select(FaceMatch.id, FaceMatch.tip_id, FaceMatch.created_at, Tip.evaluated_at)
            .join(Tip, Tip.id == FaceMatch.tip_id)
            .where(FaceMatch.id > self._face_mark)
            .order_by(FaceMatch.id)
            .limit(FACE_SCAN_LIMIT)
        )
        rows = (await session.execute(stmt)).all()
        if rows:
            self._face_mark = rows[-1][0]
        return {tip_id for _, tip_id, at, evaluated in rows if evaluated and at > evaluated}


async def _quarantined_photos(session: AsyncSession) -> dict[int, int]:
    stmt = select(TipPhoto.id, TipPhoto.tip_id).where(TipPhoto.status == "quarantined")
    return {photo_id: tip_id for photo_id, tip_id in (await session.execute(stmt)).all()}


async def _unevaluated_tip_ids(
    session: AsyncSession, unevaluated: ColumnElement[bool], *, limit: int, skip: set[int]
) -> set[int]:
    stmt = select(Tip.id).where(unevaluated, ~_quarantined(Tip.id))
    if skip:
        stmt = stmt.where(Tip.id.not_in(sorted(skip)))
    return set((await session.scalars(stmt.order_by(Tip.id).limit(limit))).all())


async def _stale_tip_ids(session: AsyncSession) -> list[int]:
    """Evaluated tips with a file or a face match newer than their evaluation (a full scan)."""
    newer_photo = exists().where(
        TipPhoto.tip_id == Tip.id,
        TipPhoto.status != "quarantined",
        TipPhoto.created_at > Tip.evaluated_at,
    )
    newer_face = exists().where(FaceMatch.tip_id == Tip.id, FaceMatch.created_at > Tip.evaluated_at)
    stmt = select(Tip.id).where(Tip.evaluated_at.is_not(None), newer_photo | newer_face)
    return list((await session.scalars(stmt)).all())
