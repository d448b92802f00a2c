"""Waiting and stopping that never lose a cancellation (Python 3.11's wait_for does)."""

from __future__ import annotations

import asyncio

import pytest

from core.waits import cancel_and_wait, wait_event


async def test_a_cancellation_that_meets_the_event_being_set_still_cancels():
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)  # waiting now
    event.set()
    waiter.cancel()  # asyncio.wait_for would return normally here on Python 3.11
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_wait_event_says_whether_the_event_came_in_time():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True


async def test_stopping_a_task_does_not_swallow_the_stoppers_own_cancellation():
    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # cleans up a while before it ends
            raise

    child = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(child))
    await asyncio.sleep(0.05)  # the stopper waits for the child's clean-up
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    await asyncio.gather(child, return_exceptions=True)
    assert child.cancelled()
