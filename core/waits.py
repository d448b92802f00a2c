"""Waiting on events and stopping tasks without losing a cancellation.

On Python 3.11, `asyncio.wait_for(event.wait(), t)` returns normally when the task is cancelled
just as the event is set: the cancellation is lost, and a loop meant to stop goes on (a stopped
inbox processor kept its PostgreSQL lock, and the next one waited for it forever). And
`suppress(CancelledError)` around awaiting a cancelled task also swallows a cancellation of the
task that awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; True when it is set. A cancellation of the waiting task
    always propagates."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
            return True
    return False


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it ends. A cancellation of the caller still propagates."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
