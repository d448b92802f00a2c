"""Retention: originals (and abandoned quarantine files) are deleted after a set number of days."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import record
from storage.photostore import MediaStore, PhotoStore
from workers.rounds import run_rounds

log = logging.getLogger("tipline.retention")


class RetentionWorker:
    """Purges the restricted originals store and the quarantine once an hour."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        originals: MediaStore,
        quarantine: PhotoStore,
        days: int,
        interval: float = 3600,
    ) -> None:
        self.sessions = sessions
        self.originals = originals
        self.quarantine = quarantine
        self.age = timedelta(days=days)
        self.interval = interval

    async def run_forever(self) -> None:
        """Purge, sleep, repeat."""
        await run_rounds(
            self.run_once, pause=self.interval, log=log, name="retention", pause_when_busy=True
        )

    async def run_once(self) -> int:
        """Delete what is older than the retention age; audited; returns how many files."""
        purged = await asyncio.to_thread(self.originals.purge_older_than, self.age)
        stale = await asyncio.to_thread(self.quarantine.purge_older_than, self.age)
        if purged or stale:
            async with self.sessions() as session:
                await record(
                    session,
                    actor_role="system",
                    action="photos.retention_purge",
                    object_type="photo_store",
                    object_ref="originals",
                    detail={
                        "originals": len(purged),
                        "quarantine": len(stale),
                        "days": self.age.days,
                    },
                )
                await session.commit()
            log.info("retention purged %s originals, %s quarantined", len(purged), len(stale))
        return len(purged) + len(stale)
