"""The workers' loop: a failed round is logged and the next one still runs; a busy queue is
drained without pausing, a timer-driven worker pauses after every round."""

from __future__ import annotations

import asyncio
import logging

import pytest

from workers import rounds


async def _trace(results, *, pause_when_busy, monkeypatch) -> list[str]:
    """What the loop did: "round" per call, "pause" per sleep; stops at the third pause."""
    trace: list[str] = []

    async def run_once() -> int:
        outcome = results[trace.count("round")] if trace.count("round") < len(results) else 0
        trace.append("round")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def pause(seconds: float) -> None:
        trace.append("pause")
        if trace.count("pause") == 3:
            raise asyncio.CancelledError

    monkeypatch.setattr(rounds.asyncio, "sleep", pause)
    with pytest.raises(asyncio.CancelledError):
        await rounds.run_rounds(
            run_once,
            pause=5.0,
            log=logging.getLogger("tipline.test"),
            name="test",
            pause_when_busy=pause_when_busy,
        )
    return trace


async def test_a_failed_round_is_logged_and_the_worker_goes_on(caplog, monkeypatch):
    caplog.set_level(logging.ERROR)
    trace = await _trace(
        [RuntimeError("database away"), 3], pause_when_busy=False, monkeypatch=monkeypatch
    )
    assert trace[:3] == ["round", "pause", "round"]
    assert "test round failed; retrying" in caplog.text and "database away" in caplog.text


async def test_a_busy_queue_is_drained_without_pausing_and_a_timer_worker_pauses(monkeypatch):
    busy = await _trace([5, 5, 5, 0], pause_when_busy=False, monkeypatch=monkeypatch)
    timed = await _trace([5, 5, 5, 0], pause_when_busy=True, monkeypatch=monkeypatch)
    assert busy[:5] == ["round", "round", "round", "round", "pause"]
    assert timed[:4] == ["round", "pause", "round", "pause"]
