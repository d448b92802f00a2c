"""Pending updates with getUpdates' rules: confirmation by offset, limit, allowed_updates."""

import asyncio
import itertools
from collections import deque
from typing import Any

# Telegram's default when allowed_updates is empty: everything except these.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """Pending updates with getUpdates' confirmation rules and a cheap long-poll wake-up."""

    def __init__(self) -> None:
        self._items: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._last_id = 0
        self.allowed: frozenset[str] | None = None
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def new_id(self) -> int:
        """The next update_id."""
        self._last_id += 1
        return self._last_id

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (assigning update_id if missing); drop it if not allowed."""
        if "update_id" not in update:
            update["update_id"] = self.new_id()
        update_id = int(update["update_id"])
        self._last_id = max(self._last_id, update_id)
        if not self.is_allowed(update):
            self.dropped += 1
            return update_id
        if self._items and self._items[-1]["update_id"] > update_id:
            self._items = deque(sorted([*self._items, update], key=lambda u: u["update_id"]))
        else:
            self._items.append(update)
        self.wake()
        return update_id

    def is_allowed(self, update: dict[str, Any]) -> bool:
        """Whether the current allowed_updates setting lets this update be created."""
        kind = update_type(update)
        if self.allowed:
            return kind in self.allowed
        return kind not in DEFAULT_EXCLUDED_UPDATES

    def confirm(self, offset: int) -> None:
        """getUpdates offset: forget updates below it; a negative offset keeps the last -offset."""
        if offset < 0:
            keep = -offset
            while len(self._items) > keep:
                self._items.popleft()
            return
        while self._items and self._items[0]["update_id"] < offset:
            self._items.popleft()

    def peek(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` oldest pending updates, left queued."""
        return list(itertools.islice(self._items, limit))

    def remove(self, update_ids: set[int]) -> None:
        """Forget specific updates (webhook deliveries that succeeded)."""
        while self._items and self._items[0]["update_id"] in update_ids:
            self._items.popleft()
        if any(u["update_id"] in update_ids for u in self._items):
            self._items = deque(u for u in self._items if u["update_id"] not in update_ids)

    def clear(self) -> None:
        """drop_pending_updates."""
        self._items.clear()

    def wake(self) -> None:
        """Wake every long-poll waiter (new update, competing poll, or shutdown)."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Sleep until woken or `seconds` pass."""
        try:
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        except TimeoutError:
            pass


def update_type(update: dict[str, Any]) -> str:
    """The update's kind: its one key besides update_id."""
    for key in update:
        if key != "update_id":
            return key
    return ""
