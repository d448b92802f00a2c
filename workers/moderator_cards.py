"""The moderator-cards loop: every few seconds, new high-scoring tips become cards (or a digest)
for the moderators' group, written to the outbox; the relay sends them within Telegram's limits.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moderation.cases.cards import Announced, CardSettings, announce, prune_tokens

log = logging.getLogger("tipline.moderation")


class ModeratorCards:
    """Announces tips to the moderators' group; one per deployment is enough (keys dedupe)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: CardSettings,
        interval: float = 10.0,
        prune_every: int = 360,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.interval = interval
        self.prune_every = prune_every

    async def run_once(self) -> Announced:
        """One round: cards or a digest for tips that became worth a look."""
        async with self.sessions() as session:
            return await announce(session, settings=self.settings)

    async def prune(self) -> int:
        """Forget expired button tokens and link codes."""
        async with self.sessions() as session:
            return await prune_tokens(session)

    async def run_forever(self) -> None:
        """Announce until cancelled; a failed round is logged and tried again next time."""
        rounds = 0
        while True:
            try:
                if rounds % self.prune_every == 0:
                    await self.prune()
                done = await self.run_once()
                if done.cards or done.digested:
                    log.info(
                        "moderators' group: %s cards, %s in a digest", done.cards, done.digested
                    )
            except Exception:
                log.exception("moderator cards round failed; retrying")
            rounds += 1
            await asyncio.sleep(self.interval)
