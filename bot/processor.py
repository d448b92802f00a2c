"""Inbox processing: feed committed updates to the Dispatcher, once each, in order per chat."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import ValidationError
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm import current_session
from storage.models import InboxUpdate
from storage.types import utcnow

log = logging.getLogger("tipline.inbox")
# Core statements on the table: the ORM's bulk-update bookkeeping costs more than the update.
INBOX = cast(Table, InboxUpdate.__table__)


@dataclass(slots=True)
class Due:
    """An inbox row to process."""

    id: int
    update_id: int
    attempts: int
    payload: dict[str, Any]


class InboxProcessor:
    """Processes the first pending update of each chat concurrently; retries, then parks as dead."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        bot: Bot,
        max_attempts: int = 5,
        concurrency: int = 64,
        idle_interval: float = 0.5,
    ) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.bot = bot
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.idle_interval = idle_interval
        self.wakeup = asyncio.Event()

    async def run_forever(self) -> None:
        """Process until cancelled (the leader lock keeps one processor per PostgreSQL database)."""
        # What is alive now lives as long as the process (gazetteer, routers, models: ~100k
        # objects). Frozen, the collector stops rescanning it: each full collection under load
        # took ~160 ms of a single core.
        gc.freeze()
        async with self._leadership():
            while True:
                try:
                    done = await self.run_once()
                except Exception:
                    log.exception("inbox round failed; retrying")
                    done = 0
                if not done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wakeup.wait(), self.idle_interval)
                    self.wakeup.clear()

    async def run_once(self) -> int:
        """One round: the oldest due update of up to `concurrency` chats; returns how many."""
        rows = await self._due()
        if rows:
            await asyncio.gather(*(self._process(row) for row in rows))
        return len(rows)

    async def _due(self) -> list[Due]:
        inbox = INBOX.c
        first_per_chat = (
            select(func.min(inbox.id)).where(inbox.status == "pending").group_by(inbox.chat_id)
        )
        stmt = (
            select(inbox.id, inbox.update_id, inbox.attempts, inbox.payload)
            .where(inbox.id.in_(first_per_chat), inbox.next_attempt_at <= utcnow())
            .order_by(inbox.id)
            .limit(self.concurrency)
        )
        async with self.sessions() as session:
            result = await session.execute(stmt)
            return [Due(*row) for row in result.all()]

    async def _process(self, row: Due) -> None:
        async with self.sessions() as session:
            # No autoflush: writes reach the database at commit, so a SQLite write lock is never
            # held across a call to Telegram.
            session.sync_session.autoflush = False
            token = current_session.set(session)
            try:
                event = Update.model_validate(row.payload, context={"bot": self.bot})
                await self.dispatcher.feed_update(self.bot, event, session=session)
                await session.execute(
                    update(INBOX)
                    .where(INBOX.c.id == row.id)
                    .values(status="done", processed_at=utcnow(), attempts=row.attempts + 1)
                )
                await session.commit()
            except ValidationError as exc:
                await session.rollback()
                await self._fail(row, exc, permanent=True)
            except Exception as exc:  # noqa: BLE001 - a failing update is retried, then parked
                await session.rollback()
                await self._fail(row, exc, permanent=False)
            finally:
                current_session.reset(token)

    async def _fail(self, row: Due, exc: Exception, *, permanent: bool) -> None:
        attempts = row.attempts + 1
        dead = permanent or attempts >= self.max_attempts
        delay = timedelta(seconds=min(2**attempts, 300))
        log.warning(
            "update %s failed (attempt %s%s): %s",
            row.update_id,
            attempts,
            ", parked as dead" if dead else "",
            type(exc).__name__,
        )
        async with self.sessions() as session:
            await session.execute(
                update(INBOX)
                .where(INBOX.c.id == row.id)
                .values(
                    status="dead" if dead else "pending",
                    attempts=attempts,
                    last_error=f"{type(exc).__name__}: {exc}"[:1000],
                    next_attempt_at=utcnow() + delay,
                )
            )
            await session.commit()

    @contextlib.asynccontextmanager
    async def _leadership(self) -> Any:
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            yield
            return
        async with engine.connect() as connection:
            while not await connection.scalar(text("SELECT pg_try_advisory_lock(7243001)")):
                await connection.commit()
                await asyncio.sleep(5)
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(7243001)"))
