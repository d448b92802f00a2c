"""Retention, once an hour: abandoned quarantined uploads, old originals, closed cases' tips.

Everything in a police packet is on legal hold and stays. What went is recorded in the audit
trail as counts, never content (docs/retention.md).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import record
from core.cases.retention import Purged, held_originals, purge_closed_cases
from storage.photostore import MediaStore, PhotoStores
from storage.types import utcnow
from workers.rounds import run_rounds

log = logging.getLogger("tipline.retention")


class RetentionWorker:
    """Purges what the retention settings say is due, once an hour."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stores: PhotoStores,
        quarantine: MediaStore,
        quarantine_hours: int = 24,
        originals_days: int | None = None,
        closed_case_days: int = 730,
        interval: float = 3600,
    ) -> None:
        self.sessions = sessions
        self.stores = stores
        self.quarantine = quarantine
        self.quarantine_age = timedelta(hours=quarantine_hours)
        self.originals_age = timedelta(days=originals_days) if originals_days else None
        self.closed_case_days = closed_case_days
        self.interval = interval

    async def run_forever(self) -> None:
        """Purge, sleep, repeat."""
        await run_rounds(
            self.run_once, pause=self.interval, log=log, name="retention", pause_when_busy=True
        )

    async def run_once(self) -> int:
        """Delete what is due; audited as counts; returns how many things went."""
        stale = await asyncio.to_thread(self.quarantine.purge_older_than, self.quarantine_age)
        originals: list[str] = []
        async with self.sessions() as session:
            if self.originals_age is not None:
                held = await held_originals(session)
                originals = await asyncio.to_thread(
                    self.stores.originals.purge_older_than, self.originals_age, keep=held
                )
            purged = await purge_closed_cases(session, days=self.closed_case_days, now=utcnow())
        files = await asyncio.to_thread(self._delete_files, purged)
        counts = {
            "quarantine_files": len(stale),
            "originals": len(originals),
            "tips": purged.tips,
            "photos": purged.photos,
            "photo_files": files,
        }
        if any(counts.values()):
            await self._audit(counts | {"tips_on_legal_hold": purged.tips_on_legal_hold})
        return len(stale) + len(originals) + purged.tips

    def _delete_files(self, purged: Purged) -> int:
        stores = {
            "originals": self.stores.originals,
            "display": self.stores.display,
            "thumbnails": self.stores.thumbnails,
        }
        return sum(stores[name].delete(sha) for name, shas in purged.files.items() for sha in shas)

    async def _audit(self, counts: dict[str, int]) -> None:
        async with self.sessions() as session:
            await record(
                session,
                actor_role="system",
                action="retention.purge",
                object_type="retention",
                object_ref="hourly",
                detail=counts
                | {
                    "quarantine_hours": int(self.quarantine_age.total_seconds() // 3600),
                    "originals_days": self.originals_age.days if self.originals_age else None,
                    "closed_case_days": self.closed_case_days,
                },
            )
            await session.commit()
        log.info("retention purged %s", counts)
