"""The outbox relay: sends due outbox rows once each, within Telegram's limits, with retries.

Each round claims the oldest due row of each recipient that may receive now (a short
transaction sets status 'sending' and a lease), sends them concurrently, and records each
outcome in its own short transaction right after the send. Crash between send and mark: the
lease expires and the row is sent again (same idempotency key). See docs/outbox.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import (
    DEAD,
    PENDING,
    SENDING,
    SENT,
    Outcome,
    Outgoing,
    Sender,
    is_group,
    list_dead,
    requeue_dead,
    subscribe,
)
from core.metrics import RELAY_FLOODS, RELAY_SENDS
from core.waits import wait_event
from storage.models import OutboxMessage
from storage.types import utcnow
from workers.buckets import Buckets, Clock, Limits
from workers.shared_buckets import SharedBuckets

__all__ = [
    "Limits",
    "Outcome",
    "Outgoing",
    "Relay",
    "Retry",
    "Sender",
    "list_dead",
    "requeue_dead",
]

log = logging.getLogger("tipline.outbox")
# Core statements on the table: the relay needs no ORM objects, and skips the ORM's cost per row.
OUTBOX = cast(Table, OutboxMessage.__table__)
OM = OUTBOX.c
_CLAIMED = (OM.id, OM.idempotency_key, OM.channel, OM.recipient, OM.payload, OM.attempts)


@dataclass(frozen=True, slots=True)
class Retry:
    """Exponential backoff for transient failures: base, 2x base, 4x base… up to cap."""

    max_attempts: int = 8
    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class _Claim:
    message: Outgoing
    lease_until: datetime


class Relay:
    """Sends the outbox; on PostgreSQL several relays may run at once (SKIP LOCKED claims)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        limits: Limits | None = None,
        retry: Retry | None = None,
        clock: Clock = time.monotonic,
        lease: float = 120.0,
        send_timeout: float = 60.0,
        max_in_flight: int = 64,
        tick: float = 0.1,
        idle_interval: float = 1.0,
        refresh_interval: float = 1.0,
        shared: SharedBuckets | None = None,
    ) -> None:
        if lease <= send_timeout:
            raise ValueError("the lease must outlast a send, or a slow send could go twice")
        self.sessions = sessions
        self.senders = dict(senders)
        self.buckets = Buckets(limits or Limits(), clock)
        self.shared = shared  # Redis: the limits every relay and the processor share
        self._shared_wait = 0.0
        self.retry = retry or Retry()
        self.lease = lease
        self.send_timeout = send_timeout
        self.max_in_flight = max_in_flight
        self.tick = tick
        self.idle_interval = idle_interval
        self.refresh_interval = refresh_interval
        self.wakeup = asyncio.Event()
        subscribe(self.wakeup)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        # Due heads seen at the last look (recipient -> row id, oldest first): re-reading every
        # round would sort the whole backlog ten times a second.
        self._heads: dict[str, int] = {}
        self._heads_at = -math.inf
        self._new_rows = True
        self._pumped_at = -math.inf
        self._retry_at = math.inf  # when the soonest row we put back becomes due (relay clock)

    async def run_forever(self) -> None:
        """Send until cancelled; on cancel, in-flight sends finish and are recorded first."""
        try:
            while True:
                try:
                    await self._pump()
                except Exception:
                    log.exception("outbox round failed; retrying")
                    await asyncio.sleep(self.idle_interval)
                await self._pause()
        finally:
            await self.close()

    async def run_once(self) -> int:
        """One round: claim what may go now, send it, record the outcomes; returns how many."""
        started = await self._pump()
        await self.close()
        return started

    async def close(self) -> None:
        """Wait for in-flight sends (each bounded by send_timeout) to finish and be recorded."""
        tasks = list(self._in_flight.values())
        if tasks:
            await asyncio.wait(tasks, timeout=self.send_timeout + 10)

    # --- rounds --------------------------------------------------------------------------------

    async def _pump(self) -> int:
        self._pumped_at = self.buckets.clock()
        if self.wakeup.is_set():
            self._new_rows = True  # rung by a commit (or a freed slot): look again
        self.wakeup.clear()  # before the claim: a commit during the round rings again
        room = min(self.buckets.room(), self.max_in_flight - len(self._in_flight))
        if self.shared is not None and room > 0:
            shared_room, self._shared_wait = await self.shared.room()
            room = min(room, shared_room)
        if room <= 0:
            return 0
        busy = set(self._in_flight) | set(self.buckets.not_ready())
        picks = await self._pick(room, busy)
        claims = await self._claim([i for _, i in picks], room) if picks else []
        self._put_back(picks, claims)
        if self.shared is not None and claims:
            claims = await self._admit(claims)
        for claim in claims:
            recipient = claim.message.recipient
            self.buckets.take(recipient, group=is_group(recipient))
            task = asyncio.create_task(self._deliver(claim))
            self._in_flight[recipient] = task
            task.add_done_callback(functools.partial(self._finished, recipient))
        return len(claims)

    async def _admit(self, claims: list[_Claim]) -> list[_Claim]:
        """Take the shared tokens of the claimed rows; hand back the rows Redis refused (another
        process used the tokens first), due now, and wait here as long as Redis said."""
        assert self.shared is not None
        targets = [(c.message.recipient, is_group(c.message.recipient)) for c in claims]
        waits = await self.shared.take(targets)
        refused = [(c, w) for c, w in zip(claims, waits, strict=True) if w > 0]
        for claim, wait in refused:
            recipient = claim.message.recipient
            self.buckets.pause(recipient, wait, group=is_group(recipient))
        if refused:
            values = {"status": PENDING, "next_attempt_at": utcnow()}
            async with self.sessions() as session:
                for claim, _ in refused:
                    await session.execute(self._mine(claim).values(**values))
                await session.commit()
        return [c for c, w in zip(claims, waits, strict=True) if w <= 0]

    @staticmethod
    def _mine(claim: _Claim) -> Any:
        """An update of the claimed row, only while our lease holds."""
        return (
            update(OUTBOX)
            .where(OM.id == claim.message.id)
            .where(OM.status == SENDING, OM.next_attempt_at == claim.lease_until)
        )

    async def _pick(self, room: int, busy: set[str]) -> list[tuple[str, int]]:
        """Candidates for this round: due heads of free recipients, oldest first."""
        usable = [(r, i) for r, i in self._heads.items() if r not in busy]
        stale = self.buckets.clock() - self._heads_at >= self.refresh_interval
        if self._new_rows or stale or not usable:
            self._new_rows = False
            self._heads_at = self.buckets.clock()
            # More than one round's worth: rows another relay takes first are skipped.
            limit = max(4 * room, int(2 * self.buckets.limits.global_per_second))
            async with self.sessions() as session:
                found = (await session.execute(self._due_heads(limit, busy, utcnow()))).all()
            self._heads = {recipient: row_id for row_id, recipient in found}
            usable = list(self._heads.items())
        # Twice the room: when another relay took some, the next ones are claimed instead.
        picks = usable[: 2 * room]
        for recipient, _ in picks:
            del self._heads[recipient]
        return picks

    def _put_back(self, picks: list[tuple[str, int]], claims: list[_Claim]) -> None:
        """Keep the candidates the claim did not reach (those it skipped were taken)."""
        if not claims:
            return
        last = claims[-1].message.id
        back = {recipient: row_id for recipient, row_id in picks if row_id > last}
        if back:
            merged = {**self._heads, **back}
            self._heads = dict(sorted(merged.items(), key=lambda item: item[1]))

    def _finished(self, recipient: str, _task: asyncio.Task[None]) -> None:
        if len(self._in_flight) >= self.max_in_flight:
            self.wakeup.set()  # a slot is free again
        self._in_flight.pop(recipient, None)

    async def _pause(self) -> None:
        waits = [self.idle_interval, *self.buckets.not_ready().values()]
        if self._shared_wait > 0:
            waits.append(self._shared_wait)  # the shared bucket was empty at the last look
            self._shared_wait = 0.0
        now = self.buckets.clock()
        if self._retry_at <= now:
            self._retry_at = math.inf  # the round that just ran had its chance
        else:
            waits.append(self._retry_at - now)
        if self.buckets.room() == 0:
            # Nothing may go before the next token; a bell now would only make us spin. Rounds
            # start every tick (not tick after the last one ended), so no token goes to waste.
            since = self.buckets.clock() - self._pumped_at
            await asyncio.sleep(max(self.tick - since, self.buckets.overall_wait()))
            return
        await wait_event(self.wakeup, max(self.tick, min(waits)))

    async def _claim(self, ids: list[int], room: int) -> list[_Claim]:
        """Lease up to `room` of these rows: status 'sending' until the lease runs out."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.lease)
        stmt = (
            update(OUTBOX)
            .where(OM.id.in_(self._still_due(ids, room, now)))
            .values(status=SENDING, next_attempt_at=lease_until)
            .returning(*_CLAIMED)
        )
        async with self.sessions() as session:
            rows = (await session.execute(stmt)).all()
            await session.commit()
        return [_Claim(Outgoing(*row), lease_until) for row in sorted(rows)]

    def _due_heads(self, limit: int, busy: Collection[str], now: datetime) -> Select[int, str]:
        """The oldest unsent row of each free recipient, when it is due, oldest first.

        Rows being sent count, so a recipient has one message in flight across all relays and
        its messages go in id order. A row scheduled for later that was never tried (an area
        alert waiting for the end of the volunteer's quiet hours) is not a head until it is due,
        so it does not hold back the person's other messages; a row waiting to be retried is.
        A window function, not `id IN (SELECT min(id) … GROUP BY)`: without fresh statistics
        PostgreSQL plans that as a quadratic nested loop."""
        unsent = (
            OM.status.in_((PENDING, SENDING)),
            OM.channel.in_(list(self.senders)),
            or_(OM.attempts > 0, OM.status == SENDING, OM.next_attempt_at <= now),
        )
        place = func.row_number().over(partition_by=OM.recipient, order_by=OM.id)
        ranked = select(OM.id, OM.recipient, OM.next_attempt_at, place.label("place"))
        ranked = ranked.where(*unsent)
        if busy:
            ranked = ranked.where(OM.recipient.not_in(list(busy)))
        heads = ranked.subquery()
        return (
            select(heads.c.id, heads.c.recipient)
            .where(heads.c.place == 1, heads.c.next_attempt_at <= now)
            .order_by(heads.c.id)
            .limit(limit)
        )

    @staticmethod
    def _still_due(ids: list[int], room: int, now: datetime) -> Select[int]:
        """Up to `room` of those rows that nobody claimed meanwhile (PostgreSQL: skip rows that
        another relay is claiming)."""
        return (
            select(OM.id)
            .where(OM.id.in_(ids), OM.status.in_((PENDING, SENDING)), OM.next_attempt_at <= now)
            .order_by(OM.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        )

    # --- one message ---------------------------------------------------------------------------

    async def _deliver(self, claim: _Claim) -> None:
        message = claim.message
        try:
            async with asyncio.timeout(self.send_timeout):
                outcome = await self.senders[message.channel].send(message)
        except TimeoutError:
            outcome = Outcome.transient(f"no answer within {self.send_timeout:g} s")
        except Exception as exc:  # a sender bug must not lose the row
            log.warning("sender failed on outbox %s", message.id, exc_info=True)
            outcome = Outcome.transient(f"sender error: {type(exc).__name__}")
        RELAY_SENDS.labels(channel=message.channel, outcome=outcome.kind).inc()
        if outcome.kind == "flood":
            RELAY_FLOODS.labels(channel=message.channel).inc()
            recipient = message.recipient
            self.buckets.pause(recipient, outcome.retry_after, group=is_group(recipient))
            if self.shared is not None:
                with contextlib.suppress(Exception):  # the local pause still holds
                    await self.shared.pause(
                        recipient, outcome.retry_after, group=is_group(recipient)
                    )
        await self._record(claim, outcome)

    async def _record(self, claim: _Claim, outcome: Outcome) -> None:
        message = claim.message
        values = self._verdict(message, outcome)
        stmt = update(OUTBOX).where(OM.id == message.id).values(**values)
        if outcome.kind != "sent":
            # Only while our lease holds: never undo another relay's later success.
            stmt = self._mine(claim).values(**values)
        for attempt in range(3):
            try:
                async with self.sessions() as session:
                    await session.execute(stmt)
                    await session.commit()
                return
            except Exception:  # noqa: BLE001 - retried; the lease covers a lost mark
                log.warning("could not record outbox %s (try %s)", message.id, attempt + 1)
                await asyncio.sleep(0.5 * 2**attempt)
        log.error(
            "outbox %s outcome %s unrecorded; it goes again after its lease",
            message.id,
            outcome.kind,
        )

    def _retry_in(self, seconds: float) -> timedelta:
        # Wake up for it (a little after its due time in the database, which uses another clock).
        self._retry_at = min(self._retry_at, self.buckets.clock() + seconds + 0.01)
        return timedelta(seconds=seconds)

    def _verdict(self, message: Outgoing, outcome: Outcome) -> dict[str, Any]:
        now = utcnow()
        attempts = message.attempts + 1
        if outcome.kind == "sent":
            return {"status": SENT, "sent_at": now, "attempts": attempts, "last_error": None}
        if outcome.kind == "flood":  # not a failed attempt
            wait = self._retry_in(outcome.retry_after)
            return {"status": PENDING, "next_attempt_at": now + wait, "last_error": outcome.reason}
        if outcome.kind == "transient" and attempts < self.retry.max_attempts:
            wait = self._retry_in(self.retry.delay(attempts))
            log.info("outbox %s attempt %s failed; retrying in %s", message.id, attempts, wait)
            return {
                "status": PENDING,
                "attempts": attempts,
                "next_attempt_at": now + wait,
                "last_error": outcome.reason[:1000],
            }
        reason = outcome.reason if outcome.kind == "permanent" else f"gave up: {outcome.reason}"
        log.warning("outbox %s to %s parked as dead: %s", message.id, message.recipient, reason)
        return {"status": DEAD, "attempts": attempts, "last_error": reason[:1000]}
