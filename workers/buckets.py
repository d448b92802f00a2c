"""Token buckets for Telegram's flood limits: per chat, per group, overall (time is injectable)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
TELEGRAM_GLOBAL_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Sending limits; the defaults stay inside Telegram's (1/s per chat, 20/min per group)."""

    global_per_second: float = 30.0
    global_burst: int = 10
    chat_per_second: float = 1.0
    chat_burst: int = 1
    group_per_minute: float = 20.0
    group_burst: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.global_per_second <= TELEGRAM_GLOBAL_MAX:
            raise ValueError(f"global_per_second must be in (0, {TELEGRAM_GLOBAL_MAX:g}]")
        if min(self.global_burst, self.chat_burst, self.group_burst) < 1:
            raise ValueError("bursts must be at least 1")
        if self.chat_per_second <= 0 or self.group_per_minute <= 0:
            raise ValueError("rates must be positive")


class TokenBucket:
    """`rate` tokens per second up to `capacity`; a pause holds it empty until a moment."""

    __slots__ = ("capacity", "paused_until", "rate", "tokens", "updated")

    def __init__(self, *, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now
        self.paused_until = -math.inf

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def available(self, now: float) -> float:
        """Tokens that may be taken now (0 while paused)."""
        self._refill(now)
        return 0.0 if now < self.paused_until else self.tokens

    def wait(self, now: float) -> float:
        """Seconds until one token may be taken (0 when it may be taken now)."""
        self._refill(now)
        refill = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
        return max(refill, self.paused_until - now, 0.0)

    def take(self, now: float) -> None:
        """Take one token (the bucket may go into debt; it then waits longer)."""
        self._refill(now)
        self.tokens -= 1

    def pause(self, seconds: float, now: float) -> None:
        """Hold the bucket for `seconds` (Telegram's retry_after) and start it empty."""
        self._refill(now)
        self.paused_until = max(self.paused_until, now + seconds)
        self.tokens = min(self.tokens, 0.0)

    def idle(self, now: float) -> bool:
        """Full and not paused: indistinguishable from a new bucket, so it can be forgotten."""
        self._refill(now)
        return self.tokens >= self.capacity and now >= self.paused_until


class Buckets:
    """The relay's buckets: one overall, one per recipient, and one more per group."""

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.overall = TokenBucket(
            rate=limits.global_per_second, capacity=limits.global_burst, now=clock()
        )
        self._chats: dict[str, TokenBucket] = {}
        self._groups: dict[str, TokenBucket] = {}

    def _of(self, recipient: str, *, group: bool, now: float) -> list[TokenBucket]:
        limits = self.limits
        found = [self._chats.get(recipient)]
        if group:
            found.append(self._groups.get(recipient))
        if found[0] is None:
            found[0] = self._chats[recipient] = TokenBucket(
                rate=limits.chat_per_second, capacity=limits.chat_burst, now=now
            )
        if group and found[1] is None:
            found[1] = self._groups[recipient] = TokenBucket(
                rate=limits.group_per_minute / 60, capacity=limits.group_burst, now=now
            )
        return [bucket for bucket in found if bucket is not None]

    def room(self) -> int:
        """How many messages may go out overall right now."""
        return int(self.overall.available(self.clock()))

    def overall_wait(self) -> float:
        """Seconds until the next message may go out overall."""
        return self.overall.wait(self.clock())

    def take(self, recipient: str, *, group: bool) -> None:
        """Spend one message overall and for the recipient."""
        now = self.clock()
        self.overall.take(now)
        for bucket in self._of(recipient, group=group, now=now):
            bucket.take(now)

    def pause(self, recipient: str, seconds: float, *, group: bool) -> None:
        """Telegram said 429: hold this recipient's buckets for `seconds`."""
        now = self.clock()
        for bucket in self._of(recipient, group=group, now=now):
            bucket.pause(seconds, now)

    def not_ready(self) -> dict[str, float]:
        """Recipients that must wait, with their waits in seconds; forgets idle buckets."""
        now = self.clock()
        waits: dict[str, float] = {}
        for table in (self._chats, self._groups):
            for recipient, bucket in list(table.items()):
                if bucket.idle(now):
                    del table[recipient]
                elif (wait := bucket.wait(now)) > 0:
                    waits[recipient] = max(wait, waits.get(recipient, 0.0))
        return waits


class Pace:
    """A sending number's pace: its own throughput, and the pace of messages to each person
    (a provider's limits, kept on our side). Recipients whose buckets refilled are forgotten
    once there are `max_recipients`."""

    def __init__(
        self,
        *,
        number_per_second: float,
        recipient_per_second: float,
        recipient_burst: float,
        clock: Clock = time.monotonic,
        max_recipients: int = 10_000,
    ) -> None:
        self.clock = clock
        self._number = TokenBucket(
            rate=number_per_second, capacity=max(1.0, number_per_second), now=clock()
        )
        self._rate, self._burst = recipient_per_second, recipient_burst
        self._recipients: dict[str, TokenBucket] = {}
        self._max = max_recipients

    def wait(self, recipient: str) -> float:
        """Seconds before the next message may go to `recipient` (0: now, and the tokens are
        taken)."""
        now = self.clock()
        bucket = self._recipients.get(recipient)
        if bucket is None:
            if len(self._recipients) >= self._max:
                self._recipients = {k: b for k, b in self._recipients.items() if not b.idle(now)}
            bucket = self._recipients[recipient] = TokenBucket(
                rate=self._rate, capacity=self._burst, now=now
            )
        wait = max(self._number.wait(now), bucket.wait(now))
        if wait <= 0:
            self._number.take(now)
            bucket.take(now)
        return wait
