"""The rescoring worker: keeps lead scores current (core/tips/rescoring.py).

Every `interval` seconds it scores again the tips marked for it (their case's last-seen time or
place changed); every `decay_every` seconds it sweeps the open tips and scores again those whose
sighting moved into an older recency band. On PostgreSQL several processes may run it: marked
tips are taken with SKIP LOCKED, and a sweep scored twice stores the same score once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.tips.evaluate import DEFAULT_EVIDENCE_SETTINGS, EvidenceSettings
from core.tips.rescoring import rescore_decayed, rescore_marked
from storage.types import utcnow
from workers.rounds import run_rounds

log = logging.getLogger("tipline.rescoring")


class RescoreWorker:
    """Scores marked tips every round and sweeps for recency once per `decay_every`."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
        interval: float = 5.0,
        decay_every: float = 3600.0,
        batch: int = 100,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.interval = interval
        self.decay_every = decay_every
        self.batch = batch
        self.clock = clock
        self._last_sweep: datetime | None = None

    async def run_forever(self) -> None:
        """Rescore until cancelled."""
        await run_rounds(self.run_once, pause=self.interval, log=log, name="rescoring")

    async def run_once(self) -> int:
        """One round; returns how many tips were scored again (marked ones looked at)."""
        async with self.sessions() as session:
            done = await rescore_marked(
                session, now=self.clock(), limit=self.batch, settings=self.settings
            )
        now = self.clock()
        if self._last_sweep is None or (now - self._last_sweep).total_seconds() >= self.decay_every:
            self._last_sweep = now
            done += await self.sweep(now)
        return done

    async def sweep(self, now: datetime) -> int:
        """Score again every open tip whose recency band changed; how many."""
        after, total = 0, 0
        while True:
            async with self.sessions() as session:
                page = await rescore_decayed(
                    session, now=now, after_id=after, settings=self.settings
                )
            total += page.rescored
            if page.last_id is None:
                break
            after = page.last_id
        if total:
            log.info("recency: %d tips scored again", total)
        return total
