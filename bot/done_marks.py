"""Group commit of processed updates' done marks and conversation states."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm import write_states
from core.waits import cancel_and_wait
from storage.models import InboxUpdate
from storage.sqlite_driver import inline
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.processor import Due

log = logging.getLogger("tipline.inbox")
INBOX = cast(Table, InboxUpdate.__table__)
# A processed update keeps no content and no chat: the payload held the tipster's names, ids
# and words, and nothing reads it again (retries are of pending or dead rows only).
REDUCED: dict[str, Any] = {}
DONE_VALUES: dict[str, Any] = {"status": "done", "payload": REDUCED, "chat_id": None}
# Many updates' done marks in one statement (one row of parameters, not one per update).
DONE = inline(
    update(INBOX)
    .where(INBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(**DONE_VALUES, processed_at=bindparam("at"), attempts=INBOX.c.attempts + 1)
)


@dataclass(slots=True)
class Handled:
    """An update handled without writes of its own: its state and done mark are still to write."""

    row: Due
    states: list[dict[str, Any]]


async def commit_done(sessions: async_sessionmaker[AsyncSession], handled: list[Handled]) -> None:
    """Mark updates done and write their states in one transaction (one fsync)."""
    async with sessions() as session:
        await write_states(session, [state for h in handled for state in h.states])
        await session.execute(DONE, {"ids": [h.row.id for h in handled], "at": utcnow()})
        await session.commit()


class DoneMarks:
    """Updates that finish close together share one commit; if it fails, each is committed alone.

    `commit` returns once the update's mark is committed, or once its failure is recorded by
    `fail` (so one bad update fails only itself).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        fail: Callable[[Due, Exception], Awaitable[None]],
        max_delay: float = 0.002,
    ) -> None:
        self._sessions = sessions
        self._fail = fail
        self._max_delay = max_delay
        self._pending: list[tuple[Handled, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def commit(self, handled: Handled) -> None:
        """Queue an update's mark for the next shared commit and wait for it."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((handled, future))
        if self._task is None or self._task.done():
            # Lives while there is something to commit (no task is left behind when idle).
            self._task = asyncio.create_task(self._run(), name="inbox-done-marks")
        await future

    async def close(self) -> None:
        """Stop the committer (marks not committed stay pending in the inbox, redone later)."""
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while self._pending:
            # Updates finishing in the next moment join this commit.
            await asyncio.sleep(self._max_delay)
            batch, self._pending = self._pending, []
            try:
                await self._commit(batch)
            except Exception:  # the marks stay pending in the inbox and are redone
                log.exception("could not record the outcome of %s updates", len(batch))

    async def _commit(self, batch: list[tuple[Handled, asyncio.Future[None]]]) -> None:
        try:
            try:
                await commit_done(self._sessions, [handled for handled, _ in batch])
            except Exception:  # noqa: BLE001 - retried one by one below
                for handled, _ in batch:
                    try:
                        await commit_done(self._sessions, [handled])
                    except Exception as exc:  # noqa: BLE001 - retried later, then parked
                        await self._fail(handled.row, exc)
        finally:
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
