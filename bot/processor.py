"""Inbox processing: feed committed updates to the Dispatcher, once each, in order per chat."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Update
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from sqlalchemy import Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter

from bot.done_marks import DONE_VALUES, DoneMarks, Handled
from bot.factory import caches_of
from bot.fsm import StateCache, current_session, take_changes
from bot.tipsters import TipsterCache
from bot.update_session import update_sessions, wrote
from core.delivery.inbox import Admitted
from core.errors import Deferred
from core.identity.erasure import ErasureListener, listen, watching_erasures
from core.logcontext import UPDATE_ID
from core.waits import cancel_and_wait, wait_event
from handlers.telegram.channel import answered_at_admission
from storage.models import InboxUpdate
from storage.types import utcnow

log = logging.getLogger("tipline.inbox")
# Core statements on the table: the ORM's bulk-update bookkeeping costs more than the update.
INBOX = cast(Table, InboxUpdate.__table__)
GC_THRESHOLDS = (20_000, 50, 100)
LOCK_KEY = 7243001  # the inbox's PostgreSQL advisory lock: one processor per database
# Whether this connection still holds it (a bigint key shows as classid 0, objid, objsubid 1).
_LOCK_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :key AND objsubid = 1)"
).bindparams(key=LOCK_KEY)
_LOCK = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=LOCK_KEY)
_UNLOCK = text("SELECT pg_advisory_unlock(:key)").bindparams(key=LOCK_KEY)
MAX_QUEUED_PER_CHAT = 100  # handed-over updates held in memory per chat; more stay in the inbox


def tune_gc() -> None:
    """The garbage collector as a long-running server under load wants it (call once started)."""
    # What is alive now lives as long as the process (gazetteer, routers, models: ~100k
    # objects). Frozen, the collector stops rescanning it: each full collection under load took
    # ~160 ms of a single core.
    gc.freeze()
    # Each update allocates thousands of short-lived objects (pydantic models, SQL statements):
    # at the default threshold of 700 the young generation was collected ~100 times a second,
    # ~3% of the CPU; every 20,000 allocations it is ~1 time a second.
    gc.set_threshold(*GC_THRESHOLDS)


def _only_states_left(session: AsyncSession) -> bool:
    """True when the update wrote nothing uncommitted but conversation state."""
    pending = session.new or session.dirty or session.deleted
    return not pending and not wrote(session)


def _due_statement(limit: int) -> Any:
    """Built once: the oldest pending update of each chat, and pending updates without a chat
    (nothing orders those), due now, chats in flight left out."""
    inbox = INBOX.c
    first_per_chat = (
        select(func.min(inbox.id))
        .where(inbox.status == "pending", inbox.chat_id.is_not(None))
        .group_by(inbox.chat_id)
    )
    # Grouped with the chats, the updates without one were one group: one of them a round.
    chatless = and_(inbox.chat_id.is_(None), inbox.status == "pending")
    columns = (inbox.id, inbox.chat_id, inbox.update_id, inbox.attempts, inbox.payload)
    busy: BindParameter[int] = bindparam("busy", expanding=True)
    return (
        select(*columns, inbox.acknowledged)
        .where(or_(chatless, inbox.id.in_(first_per_chat)))
        .where(inbox.next_attempt_at <= bindparam("now"))
        .where(or_(inbox.chat_id.is_(None), inbox.chat_id.not_in(busy)))
        .order_by(inbox.id)
        .limit(limit)
    )


def without_echoed_keyboard(payload: dict[str, Any]) -> dict[str, Any]:
    """The update without the keyboard Telegram echoes back in a button press's message.

    No handler reads it (they answer from the press's data), and its buttons were most of the
    cost of validating a press: 84 -> 50 us. The stored payload is left as it came.
    """
    query = payload.get("callback_query")
    if not isinstance(query, dict):
        return payload
    message = query.get("message")
    if not isinstance(message, dict) or "reply_markup" not in message:
        return payload
    message = {key: value for key, value in message.items() if key != "reply_markup"}
    return {**payload, "callback_query": {**query, "message": message}}


def error_text(exc: Exception) -> str:
    """What is kept of a failure: pydantic's message quotes the update's values (names, ids),
    so a validation error keeps only where it failed."""
    if isinstance(exc, ValidationError):
        where = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})
        return f"ValidationError at {', '.join(where)}"[:1000]
    return f"{type(exc).__name__}: {exc}"[:1000]


FlightKey = int | tuple[str, int]


@dataclass(slots=True)
class Due:
    """An inbox row to process."""

    id: int
    chat_id: int | None
    update_id: int
    attempts: int
    payload: dict[str, Any]
    acknowledged: bool  # its callback query was answered in the webhook's response
    handed: bool = False  # handed over by admission in memory, not read from the inbox

    @property
    def flight_key(self) -> FlightKey:
        """What marks it in flight: its chat; an update without a chat stands alone."""
        return self.chat_id if self.chat_id is not None else ("update", self.id)


class InboxProcessor:
    """Processes updates in order per chat, many chats at once; retries, then parks as dead.

    Each chat has at most one update in flight: its next one starts only once the previous
    one's outcome is committed. Other chats do not wait for it: a chat whose update is done
    takes its next one at once, without waiting for slower chats (round by round, one update
    waiting out a 30 s Telegram timeout held up every chat).

    Updates admitted in this process are handed over in memory (`take`) when the processor
    holds everything else pending in their chat; the inbox stays the truth (a crash loses
    nothing: the rows are pending). Anything else (other processes' admissions, a backlog at
    start, retries) is read from the inbox, and a failure sends its chat back to the inbox.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        bot: Bot,
        max_attempts: int = 5,
        concurrency: int = 64,
        idle_interval: float = 0.5,
        gather_delay: float = 0.005,
        lock_check: float = 1.0,
        caches: Sequence[StateCache | TipsterCache] | None = None,
    ) -> None:
        # Its own session class: the commit bookkeeping (states, caches) runs in these alone.
        self.sessions = update_sessions(sessions)
        self.dispatcher = dispatcher
        self.bot = bot
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.idle_interval = idle_interval
        self.gather_delay = gather_delay
        self.lock_check = lock_check
        # Cleared at each new term as leader (another processor may have led meanwhile).
        self.caches = list(caches) if caches is not None else caches_of(dispatcher)
        self.wakeup = asyncio.Event()
        # Chats with an update in flight (its inbox id); an update without a chat is its own.
        self._flight: dict[FlightKey, int] = {}
        self._queues: dict[int | None, deque[Due]] = {}  # handed over, by chat, oldest first
        self._leading = False  # holds the inbox (PostgreSQL: the leader lock); takes handovers
        self._unheld = False  # handed-over updates were left to the inbox read
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks = DoneMarks(self.sessions, fail=self._retry_later)
        # An erased tipster must not be found again through a cached tipster or state.
        self._erasures = ErasureListener(self.forget_cached)
        listen(self._erasures)
        self._due_stmt = _due_statement(concurrency)

    async def run_forever(self) -> None:
        """Process until cancelled (the leader lock keeps one processor per PostgreSQL database)."""
        tune_gc()
        while True:
            try:
                async with (
                    self._leadership() as lost,
                    watching_erasures(self.sessions, self.forget_cached),
                ):
                    # Another processor may have led meanwhile: what was cached may be stale.
                    self.forget_cached()
                    await self._lead(lost)
                log.warning("lost the inbox lock; processing stops until it is taken again")
            except Exception:  # the database is unreachable, say: try again shortly
                log.exception("could not hold the inbox lock; trying again")
                await asyncio.sleep(self.idle_interval)
            finally:
                await self._stop()

    async def _lead(self, lost: asyncio.Event) -> None:
        """Start due updates as they come, until the leader lock is lost."""
        while not lost.is_set():
            try:
                started = await self._start_due()
            except Exception:
                log.exception("could not read the inbox; retrying")
                started = 0
            if not started or len(self._flight) >= self.concurrency:
                await wait_event(self.wakeup, self.idle_interval)
                self.wakeup.clear()
            # Chats finishing and updates arriving in the next moment share one read.
            await asyncio.sleep(self.gather_delay)

    def forget_cached(self) -> None:
        """Drop every cached tipster and conversation state (an identity was erased)."""
        for cache in self.caches:
            cache.clear()

    async def run_once(self) -> int:
        """One round: the oldest due update of up to `concurrency` chats, processed and
        committed; returns how many (tests and tools; `run_forever` does not wait for rounds)."""
        rows = await self._due()
        await asyncio.gather(*(self._handle(self._claim(row)) for row in rows))
        return len(rows)

    def take(self, admitted: Admitted) -> None:
        """Updates just committed by admission in this process: start them without a read.

        A chat's new updates are held only when every other pending update of that chat is
        already held (in flight or queued here); otherwise the inbox read takes them, in order.
        """
        if not self._leading:  # another process's processor has the inbox; it reads them
            return
        by_chat: dict[int, list[tuple[int, int]]] = {}
        for inbox_id, chat, attempts in admitted.pending:
            by_chat.setdefault(chat, []).append((inbox_id, attempts))
        held = [self._hold(chat, rows, admitted.updates) for chat, rows in by_chat.items()]
        # Updates without a chat, or beyond the read's limit, are read from the inbox.
        unread = admitted.updates.keys() - {i for rows in by_chat.values() for i, _ in rows}
        if not all(held) or unread:
            self._unheld = True
            self.wakeup.set()

    def _hold(
        self,
        chat: int,
        rows: list[tuple[int, int]],
        updates: dict[int, tuple[dict[str, Any], bool]],
    ) -> bool:
        """Queue a chat's new updates (starting the first if the chat is idle); False when
        they are left to the inbox read."""
        known = {row.id for row in self._queues.get(chat, ())}
        if chat in self._flight:
            known.add(self._flight[chat])
        fresh = [(i, a) for i, a in rows if i not in known]
        if not fresh:
            return True
        room = chat in self._flight or len(self._flight) < self.concurrency
        # A flood waits in the inbox, not in memory.
        small = len(self._queues.get(chat, ())) + len(fresh) <= MAX_QUEUED_PER_CHAT
        if not (room and small) or any(i not in updates for i, _ in fresh):
            return False  # something pending that this processor does not hold comes first
        queue = self._queues.setdefault(chat, deque())
        for inbox_id, attempts in fresh:
            update, ack = updates[inbox_id]
            queue.append(Due(inbox_id, chat, update["update_id"], attempts, update, ack, True))
        if chat not in self._flight:
            self._start(self._claim(queue.popleft()))
        return True

    def takes_handoffs(self) -> bool:
        """Whether admission should read back its chats' pending updates for `take`: not while
        another process's processor holds the inbox (this one then takes nothing)."""
        return self._leading

    def _start(self, row: Due) -> None:
        task = asyncio.create_task(self._handle(row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_due(self) -> int:
        self._unheld = False
        rows = await self._due()
        for row in rows[: self.concurrency - len(self._flight)]:
            self._start(self._claim(row))
        return len(rows)

    async def _stop(self) -> None:
        self._leading = False  # what is queued stays pending in the inbox
        self._queues.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._marks.close()

    async def _due(self) -> list[Due]:
        """The oldest due update of each chat that has none in flight, oldest first."""
        busy = [chat for chat in self._flight if isinstance(chat, int)]
        async with self.sessions() as session:
            result = await session.execute(self._due_stmt, {"now": utcnow(), "busy": busy})
            rows = [Due(*row) for row in result.all()]
        # A read overlapping a handover may return a row now held: only the holder starts it.
        return [row for row in rows if row.flight_key not in self._flight]

    def _claim(self, row: Due) -> Due:
        """Mark the row's chat as in flight (before its task starts, so no read takes it again)."""
        self._flight[row.flight_key] = row.id
        return row

    async def _handle(self, row: Due) -> None:
        UPDATE_ID.set(row.update_id)  # this task's log lines name the update (JSON logs)
        try:
            handled = await self._process(row)
            if handled is not None:
                await self._marks.commit(handled)
        except Exception:  # recording a failure failed (database down): the row stays pending
            log.exception("update %s: outcome not recorded; it will be processed again", row.id)
            self._release_queue(row.chat_id)
        finally:
            queue = self._queues.get(row.chat_id) if self._leading else None
            if queue:  # the chat's next update, handed over: no read needed
                self._start(self._claim(queue.popleft()))
            else:
                self._queues.pop(row.chat_id, None)
                del self._flight[row.flight_key]
                # A chat read from the inbox may have more there; a handed-over chat has
                # nothing else pending, unless updates were left to the read for want of room.
                if not row.handed or self._unheld:
                    self.wakeup.set()

    def _release_queue(self, chat: int | None) -> None:
        """After a failure the chat's order is the inbox's again (the failed update comes first,
        when due): what was handed over stays pending there and is read in turn."""
        if self._queues.pop(chat, None):
            self.wakeup.set()

    async def _process(self, row: Due) -> Handled | None:
        """Handle one update; what is left to commit with others, or None when it is settled."""
        async with self.sessions() as session:
            # No autoflush: writes reach the database at commit, so a SQLite write lock is never
            # held across a call to Telegram.
            session.sync_session.autoflush = False
            token = current_session.set(session)
            # A button press the webhook answered in its response is not answered again.
            answered = answered_at_admission.set(row.acknowledged)
            try:
                payload = without_echoed_keyboard(row.payload)
                event = Update.model_validate(payload, context={"bot": self.bot})
                await self.dispatcher.feed_update(
                    self.bot, event, session=session, acknowledged=row.acknowledged
                )
                if _only_states_left(session):
                    # Written with other updates finishing now: one commit (fsync) for many.
                    handled = Handled(row, take_changes(session))
                    if session.in_transaction():  # most updates now read nothing at all
                        await session.rollback()
                    return handled
                await session.execute(
                    update(INBOX)
                    .where(INBOX.c.id == row.id)
                    .values(**DONE_VALUES, processed_at=utcnow(), attempts=row.attempts + 1)
                )
                await session.commit()
            except Deferred as exc:  # the overall rate is reached: kept for later, not failed
                await session.rollback()
                await self._defer(row, exc.wait)
            except TelegramRetryAfter as exc:  # Telegram's own flood limit: not the update's fault
                await session.rollback()
                await self._defer(row, float(exc.retry_after))
            except (ValidationError, PydanticSerializationError) as exc:
                # Neither comes out otherwise next time: aiogram cannot dump an update of an
                # unknown kind that holds a lone surrogate, say (when it says it skips it).
                await session.rollback()
                await self._fail(row, exc, permanent=True)
            except Exception as exc:  # noqa: BLE001 - a failing update is retried, then parked
                await session.rollback()
                await self._fail(row, exc, permanent=False)
            finally:
                answered_at_admission.reset(answered)
                current_session.reset(token)
        return None

    async def _defer(self, row: Due, wait: float) -> None:
        """Take the update up again in `wait` seconds: not an attempt, never parked for it.
        The chat's later updates wait behind it (the inbox read takes a chat's oldest first)."""
        try:
            async with self.sessions() as session:
                await session.execute(
                    update(INBOX)
                    .where(INBOX.c.id == row.id)
                    .values(next_attempt_at=utcnow() + timedelta(seconds=wait))
                )
                await session.commit()
        finally:
            self._release_queue(row.chat_id)

    async def _retry_later(self, row: Due, exc: Exception) -> None:
        await self._fail(row, exc, permanent=False)

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
        try:
            async with self.sessions() as session:
                await session.execute(
                    update(INBOX)
                    .where(INBOX.c.id == row.id)
                    .values(
                        status="dead" if dead else "pending",
                        attempts=attempts,
                        last_error=error_text(exc),
                        next_attempt_at=utcnow() + delay,
                    )
                )
                await session.commit()
        finally:
            self._release_queue(row.chat_id)

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[asyncio.Event]:
        """Hold the inbox: on PostgreSQL, a session advisory lock, checked every
        `lock_check` seconds; the event is set when it is lost (its connection dropped, say),
        so that this processor stops before another one starts."""
        lost = asyncio.Event()
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            self._leading = True
            yield lost
            return
        async with engine.connect() as connection:
            while not await connection.scalar(_LOCK):
                await connection.commit()
                await asyncio.sleep(5)
            await connection.commit()
            self._leading = True
            watch = asyncio.create_task(self._watch_lock(connection, lost))
            try:
                yield lost
            finally:
                self._leading = False
                await cancel_and_wait(watch)
                with contextlib.suppress(Exception):  # a dropped connection released it
                    await connection.execute(_UNLOCK)

    async def _watch_lock(self, connection: Any, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.lock_check)
            try:
                held = await connection.scalar(_LOCK_HELD)
                await connection.commit()
            except Exception:  # noqa: BLE001 - the connection is gone, and the lock with it
                held = False
            if not held:
                self._leading = False  # no more handovers from admission
                lost.set()
                self.wakeup.set()
                return
