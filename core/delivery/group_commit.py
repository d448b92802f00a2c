"""Group commit: concurrent admissions share one transaction (one fsync per batch).

Each waiter hands in an item and a future; a background task gathers what arrived within
`max_delay` (or `max_batch` items) and commits them together in `_commit`, which resolves
every future (or sets the commit's exception on each).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Generic, NamedTuple, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.waits import cancel_and_wait

T = TypeVar("T")


class Waiting(NamedTuple, Generic[T]):
    """An item waiting for the batch commit, and the future its sender awaits."""

    item: T
    future: asyncio.Future[None]


class GroupCommitter(ABC, Generic[T]):
    """The batching loop; subclasses say how a batch is committed."""

    def __init__(self, *, max_batch: int = 500, max_delay: float = 0.002, name: str) -> None:
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._name = name
        self._waiting: list[Waiting[T]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _submit(self, item: T) -> None:
        """Return once the item is committed; raise if the commit failed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(Waiting(item, future))
        self._wakeup.set()
        await future

    async def close(self) -> None:
        """Stop the background committer."""
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if len(self._waiting) < self._max_batch:
                await asyncio.sleep(self._max_delay)
            batch = self._waiting[: self._max_batch]
            self._waiting = self._waiting[self._max_batch :]
            if self._waiting:
                self._wakeup.set()
            if batch:
                await self._commit(batch)

    @abstractmethod
    async def _commit(self, batch: list[Waiting[T]]) -> None:
        """Commit one batch in one transaction and settle each waiter's future."""

    @staticmethod
    def _fail(batch: list[Waiting[T]], exc: BaseException) -> None:
        for one in batch:
            if not one.future.done():
                one.future.set_exception(exc)

    @staticmethod
    def _done(batch: list[Waiting[T]]) -> None:
        for one in batch:
            if not one.future.done():
                one.future.set_result(None)


class SessionCommitter(GroupCommitter[T]):
    """A group committer whose batch is written, and committed, in one session by `_write`
    (a webhook's durable admission: WhatsApp's, SMS's)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        name: str,
        max_batch: int = 500,
        max_delay: float = 0.002,
    ) -> None:
        super().__init__(max_batch=max_batch, max_delay=max_delay, name=name)
        self._sessions = sessions

    async def admit(self, item: T) -> None:
        """Return once the item is committed; raise if not."""
        await self._submit(item)

    async def _commit(self, batch: list[Waiting[T]]) -> None:
        try:
            async with self._sessions() as session:
                await self._write(session, [one.item for one in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter learns the commit failed
            self._fail(batch, exc)
            return
        self._done(batch)

    @abstractmethod
    async def _write(self, session: AsyncSession, items: list[T]) -> None:
        """Write the batch's items and commit."""
