"""The loop every background worker runs: a round, then a pause, until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def run_rounds(
    run_once: Callable[[], Awaitable[int]],
    *,
    pause: float,
    log: logging.Logger,
    name: str,
    pause_when_busy: bool = False,
) -> None:
    """Call `run_once` until cancelled. A failed round is logged (never fatal: the next one may
    succeed). Pause after a round that did nothing or failed; after every round when
    `pause_when_busy` (workers that poll on a timer rather than drain a queue)."""
    while True:
        try:
            done = await run_once()
        except Exception:
            log.exception("%s round failed; retrying", name)
            done = 0
        if pause_when_busy or not done:
            await asyncio.sleep(pause)
