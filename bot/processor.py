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
from sqlalchemy import Table, bindparam, event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.fsm import current_session, take_changes, write_states
from handlers.turn import answered_at_admission
from storage.models import InboxUpdate
from storage.types import utcnow

log = logging.getLogger("tipline.inbox")
# Core statements on the table: the ORM's bulk-update bookkeeping costs more than the update.
INBOX = cast(Table, InboxUpdate.__table__)
WROTE = "inbox_wrote"
GC_THRESHOLDS = (20_000, 50, 100)
# A round's done marks in one statement (one row of parameters, not one per update).
DONE = (
    update(INBOX)
    .where(INBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(status="done", processed_at=bindparam("at"), attempts=INBOX.c.attempts + 1)
)


@event.listens_for(Session, "do_orm_execute")
def _note_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_writes(session: Session) -> None:
    session.info.pop(WROTE, None)


def _only_states_left(session: AsyncSession) -> bool:
    """True when the update wrote nothing uncommitted but conversation state."""
    pending = session.new or session.dirty or session.deleted
    return not pending and not session.info.get(WROTE)


@dataclass(slots=True)
class Handled:
    """An update handled without writes of its own: its state and done mark are still to write."""

    row: Due
    states: list[dict[str, Any]]


@dataclass(slots=True)
class Due:
    """An inbox row to process."""

    id: int
    update_id: int
    attempts: int
    payload: dict[str, Any]
    acknowledged: bool  # its callback query was answered in the webhook's response


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
        # Each update allocates thousands of short-lived objects (pydantic models, SQL
        # statements): at the default threshold of 700 the young generation was collected ~100
        # times a second, ~3% of the CPU; every 20,000 allocations it is ~1 time a second.
        gc.set_threshold(*GC_THRESHOLDS)
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
            handled: list[Handled] = []
            await asyncio.gather(*(self._process(row, handled) for row in rows))
            await self._commit_together(handled)
        return len(rows)

    async def _commit_together(self, handled: list[Handled]) -> None:
        """Mark a round's updates done and write their states in one transaction (one fsync).

        If that fails, each is committed alone, so one bad update fails only itself.
        """
        if not handled:
            return
        try:
            await self._commit_done(handled)
        except Exception:  # noqa: BLE001 - retried one by one below
            for one in handled:
                try:
                    await self._commit_done([one])
                except Exception as exc:  # noqa: BLE001 - retried, then parked
                    await self._fail(one.row, exc, permanent=False)

    async def _commit_done(self, handled: list[Handled]) -> None:
        ids = [h.row.id for h in handled]
        async with self.sessions() as session:
            await write_states(session, [state for h in handled for state in h.states])
            await session.execute(DONE, {"ids": ids, "at": utcnow()})
            await session.commit()

    async def _due(self) -> list[Due]:
        inbox = INBOX.c
        first_per_chat = (
            select(func.min(inbox.id)).where(inbox.status == "pending").group_by(inbox.chat_id)
        )
        stmt = (
            select(inbox.id, inbox.update_id, inbox.attempts, inbox.payload, inbox.acknowledged)
            .where(inbox.id.in_(first_per_chat), inbox.next_attempt_at <= utcnow())
            .order_by(inbox.id)
            .limit(self.concurrency)
        )
        async with self.sessions() as session:
            result = await session.execute(stmt)
            return [Due(*row) for row in result.all()]

    async def _process(self, row: Due, handled: list[Handled]) -> None:
        async with self.sessions() as session:
            # No autoflush: writes reach the database at commit, so a SQLite write lock is never
            # held across a call to Telegram.
            session.sync_session.autoflush = False
            token = current_session.set(session)
            # A button press the webhook answered in its response is not answered again.
            answered = answered_at_admission.set(row.acknowledged)
            try:
                event = Update.model_validate(row.payload, context={"bot": self.bot})
                await self.dispatcher.feed_update(
                    self.bot, event, session=session, acknowledged=row.acknowledged
                )
                if _only_states_left(session):
                    # Written with the round's other updates: one commit (fsync) a round.
                    handled.append(Handled(row, take_changes(session)))
                    if session.in_transaction():  # most updates now read nothing at all
                        await session.rollback()
                    return
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
                answered_at_admission.reset(answered)
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
