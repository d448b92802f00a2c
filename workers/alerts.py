"""The alert worker: as time passes the radius of each active case grows; alert whoever it reaches.

Every `interval` seconds it looks at the active missing-child cases whose radius can still grow
and, for each whose current radius is larger than the one covered so far, alerts the newly
covered volunteers in its own transaction (a failure on one case leaves the others alone).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.alerts.dispatch import AlertPolicy, extend_case_alerts, list_growing_cases, radius_at
from storage.models import Case
from storage.types import utcnow
from workers.rounds import run_rounds

log = logging.getLogger("tipline.alerts")


class AlertWorker:
    """Widens the alerts of active cases as their radius grows."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        radii: Sequence[float],
        step_minutes: int,
        per_day: int,
        interval: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.radii = tuple(radii)
        self.step_minutes = step_minutes
        self.per_day = per_day
        self.interval = interval
        self.clock = clock

    async def run_forever(self) -> None:
        """Widen alerts every interval until cancelled."""
        await run_rounds(
            self.run_once, pause=self.interval, log=log, name="alert", pause_when_busy=True
        )

    async def run_once(self) -> int:
        """One round over the growing cases; returns how many alerts were enqueued."""
        async with self.sessions() as session:
            ids = await list_growing_cases(session, max_radius_km=max(self.radii))
        sent = 0
        for case_id in ids:
            try:
                sent += await self._widen(case_id)
            except Exception:
                log.exception("alerts for case %s failed; next round retries", case_id)
        return sent

    async def _widen(self, case_id: int) -> int:
        now = self.clock()
        async with self.sessions() as session:
            case = await session.get(Case, case_id)
            if case is None or case.alert_from_at is None:
                return 0
            radius = radius_at(
                now - case.alert_from_at, radii=self.radii, step_minutes=self.step_minutes
            )
            if case.alert_radius_km is not None and radius <= case.alert_radius_km:
                return 0
            policy = AlertPolicy(self.radii, self.step_minutes, self.per_day)
            count = await extend_case_alerts(session, case=case, now=now, policy=policy)
            await session.commit()
            if count:
                log.info("case %s: radius %g km, %d new alerts", case.ref, radius, count)
            return count
