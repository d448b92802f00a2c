"""Durable admission: a Telegram update is committed to the inbox before it is acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import InboxRepository

_CHAT_HOLDERS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (for per-chat ordering and fairness), if any."""
    for key in _CHAT_HOLDERS:
        if isinstance(update.get(key), dict):
            chat = update[key].get("chat") or {}
            return chat.get("id") if isinstance(chat.get("id"), int) else None
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        message = value.get("message")
        if isinstance(message, dict) and isinstance((message.get("chat") or {}).get("id"), int):
            return int(message["chat"]["id"])
        sender = value.get("from") or value.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def validate_update(update: object) -> dict[str, Any]:
    """Accept only an object with an integer update_id; raise ValueError otherwise."""
    if not isinstance(update, dict):
        raise ValueError("an update must be a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        raise ValueError("an update must have a non-negative integer update_id")
    return update


async def admit(session: AsyncSession, updates: Sequence[dict[str, Any]]) -> int:
    """Insert updates (duplicates ignored) and commit; returns how many were new."""
    rows = [(u["update_id"], chat_of(u), u) for u in updates]
    new = await InboxRepository(session).add_many(rows)
    await session.commit()
    return new


class AdmissionBatcher:
    """Group commit: concurrent admissions share one transaction (one fsync per batch)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = 500,
        max_delay: float = 0.002,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        self._sessions = sessions
        self._wakeup_processor = wakeup
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def admit(self, update: dict[str, Any]) -> None:
        """Return once the update is committed; raise if the commit failed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbox-admission")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((update, future))
        self._wakeup.set()
        await future

    async def close(self) -> None:
        """Stop the background committer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if len(self._pending) < self._max_batch:
                await asyncio.sleep(self._max_delay)
            batch, self._pending = (
                self._pending[: self._max_batch],
                self._pending[self._max_batch :],
            )
            if self._pending:
                self._wakeup.set()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        try:
            async with self._sessions() as session:
                await admit(session, [update for update, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiter learns the commit failed
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._wakeup_processor is not None:
            self._wakeup_processor.set()
