"""What the chat tests of every transport (WhatsApp, SMS) run their workers with: a relay on
a hand-moved clock, and one call that processes what came in and relays what went out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chats.processor import ChatProcessor
from storage.types import utcnow
from workers.relay import Relay, Retry, Sender


@dataclass
class Clock:
    """The relay's monotonic clock, moved on by hand (a provider's per-person pace)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


class Later:
    """The chat processor's clock (UTC), from now on, moved on by hand."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


def relay(
    sessions: async_sessionmaker[AsyncSession], channel: str, sender: Sender, clock: Clock
) -> Relay:
    """The real relay with one channel's sender, quick retries and the hand-moved clock."""
    return Relay(
        sessions=sessions,
        senders={channel: sender},
        retry=Retry(max_attempts=3, base=0.01),
        clock=clock,
        send_timeout=10,
        lease=30,
    )


async def drain(processor: ChatProcessor, relay: Relay, clock: Clock) -> None:
    """Process every pending message, then relay every reply (moving the clock past the
    provider's pace between rounds)."""
    while await processor.run_once():
        pass
    for _ in range(100):
        clock.now += 10
        if not await relay.run_once():
            break
