"""Abuse limits: sliding-window rate limits and per-key exponential back-off.

In memory for one process (strictly bounded: least recently used keys are forgotten first), or in
Redis, shared by every process (each key expires on its own).
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from core.errors import RateLimited

MAX_KEYS = 100_000
MAX_COUNT = 100_000  # hits remembered per key: bounds a key's memory too
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d{1,7})/(\d{0,6})([smhd]?)")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` hits in any `window` seconds."""

    limit: int
    window: float


def parse_rates(text: str) -> tuple[Rate, ...]:
    """'10/1m,40/1h' as rates; ValueError naming the form expected for anything else."""
    rates = []
    for part in text.replace(" ", "").split(","):
        match = _RATE.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a rate; write COUNT/WINDOW such as 10/1m or 40/1h")
        count, number, unit = match.groups()
        window = int(number or "1") * _UNITS[unit or "s"]
        if not 1 <= int(count) <= MAX_COUNT or not 1 <= window <= 86400:
            raise ValueError(
                f"{part!r}: the count must be 1 to {MAX_COUNT:,}, the window 1 s to 1 day"
            )
        rates.append(Rate(int(count), float(window)))
    return tuple(rates)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Free tries, then waits doubling from `base` seconds up to `cap`; quiet for `cap`, forgiven.

    The cap is why it never locks anyone out for good: the owner can always try again after it.
    """

    free: int = 3
    base: float = 2.0
    cap: float = 900.0

    def wait(self, failures: int) -> float:
        """Seconds to wait after this many failures in a row."""
        if failures <= self.free:
            return 0.0
        return min(self.base * 2.0 ** min(failures - self.free - 1, 30), self.cap)


class RateLimiter(Protocol):
    """Counts hits per key in a sliding window, and failures per key for a back-off."""

    async def admit(self, key: str, *, limit: int, window: float) -> float:
        """Record a hit and return 0; over the limit, count nothing, return the seconds to wait."""
        ...

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when the key is over its limit (the hit is not counted then)."""
        ...

    async def refund(self, key: str) -> None:
        """Take back the key's latest hit (the attempt it counted turned out to be allowed)."""
        ...

    async def backoff_wait(self, key: str) -> float:
        """Seconds before the key may try again (0: now)."""
        ...

    async def failed(self, key: str, *, policy: Backoff) -> float:
        """Count a failure; return the wait it earns."""
        ...

    async def cleared(self, key: str) -> None:
        """Forget the key's failures (after a success)."""
        ...


class MemoryRateLimiter:
    """Limits for one process, holding at most `max_keys` keys of each kind."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        # key -> (failures in a row, time of the last, when the next try is allowed)
        self._failures: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits) + len(self._failures)

    async def admit(self, key: str, *, limit: int, window: float) -> float:
        """Record a hit and return 0, or return the seconds until one is allowed."""
        now = self._clock()
        hits = self._hits.pop(key, None)
        if hits is None or hits.maxlen != limit:
            hits = deque(hits or (), maxlen=limit)
        self._hits[key] = hits  # most recently used last
        self._trim(self._hits)
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(hits[0] + window - now, 0.001)
        hits.append(now)
        return 0.0

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when over the limit."""
        return await self.admit(key, limit=limit, window=window) == 0.0

    async def refund(self, key: str) -> None:
        """Take back the key's latest hit."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    async def backoff_wait(self, key: str) -> float:
        """Seconds before the key may try again."""
        entry = self._failures.get(key)
        return max(entry[2] - self._clock(), 0.0) if entry else 0.0

    async def failed(self, key: str, *, policy: Backoff) -> float:
        """Count a failure; a key quiet for longer than the cap starts again from none."""
        now = self._clock()
        count, last, _ = self._failures.pop(key, (0, now, now))
        count = 1 if now - last > policy.cap else count + 1
        wait = policy.wait(count)
        self._failures[key] = (count, now, now + wait)
        self._trim(self._failures)
        return wait

    async def cleared(self, key: str) -> None:
        """Forget the key's failures."""
        self._failures.pop(key, None)

    def _trim(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self._max_keys:
            table.popitem(last=False)


# One round trip, atomic across processes: drop hits older than the window, then count or refuse.
_ADMIT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return '0'
"""

_FAILED = """
local now, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local count = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or ARGV[1])
if now - last > cap then count = 0 end
count = count + 1
redis.call('HSET', KEYS[1], 'n', count, 'last', now)
redis.call('EXPIRE', KEYS[1], math.ceil(2 * cap) + 1)
return count
"""


class RedisRateLimiter:
    """Limits shared by every process through Redis: sorted sets and hashes that expire."""

    def __init__(self, redis: Redis, prefix: str = "tipline:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._admit = redis.register_script(_ADMIT)
        self._failed = redis.register_script(_FAILED)

    async def admit(self, key: str, *, limit: int, window: float) -> float:
        """Record a hit and return 0, or return the seconds until one is allowed."""
        now = time.time()
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        args: list[str | float] = [now, window, limit, member]
        wait = float(await self._admit(keys=[self._prefix + key], args=args))
        return max(wait, 0.001) if wait else 0.0

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when over the limit."""
        return await self.admit(key, limit=limit, window=window) == 0.0

    async def refund(self, key: str) -> None:
        """Take back the key's latest hit (the highest score of its sorted set), atomically."""
        await self._redis.zpopmax(self._prefix + key)

    async def backoff_wait(self, key: str) -> float:
        """Seconds before the key may try again."""
        until = await self._redis.hget(self._prefix + "bo:" + key, "until")
        return max(float(until) - time.time(), 0.0) if until else 0.0

    async def failed(self, key: str, *, policy: Backoff) -> float:
        """Count a failure; a key quiet for longer than the cap starts again from none."""
        now = time.time()
        name = self._prefix + "bo:" + key
        count = int(await self._failed(keys=[name], args=[now, policy.cap]))
        wait = policy.wait(count)
        await self._redis.hset(name, "until", f"{now + wait:.6f}")
        return wait

    async def cleared(self, key: str) -> None:
        """Forget the key's failures."""
        await self._redis.delete(self._prefix + "bo:" + key)


async def admit_rates(limiter: RateLimiter, key: str, rates: tuple[Rate, ...]) -> float:
    """Count a hit against each rate of the key; over one of them, take back the hits counted
    and return the seconds to wait (0: admitted by all)."""
    for n, rate in enumerate(rates):
        wait = await limiter.admit(f"{key}:{rate.window:g}", limit=rate.limit, window=rate.window)
        if wait:
            await refund_rates(limiter, key, rates[:n])
            return wait
    return 0.0


async def refund_rates(limiter: RateLimiter, key: str, rates: tuple[Rate, ...]) -> None:
    """Take back the hit `admit_rates` counted against each of these rates of the key."""
    for rate in rates:
        await limiter.refund(f"{key}:{rate.window:g}")


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))


# Sign-in: per account, whatever the address (many addresses guessing one password are one
# attacker); the cap keeps the owner's own door open.
SIGN_IN_BACKOFF = Backoff(free=3, base=2.0, cap=900.0)


def account_key(email: str) -> str:
    """The back-off key of a staff account."""
    return f"signin-account:{email.strip().lower()[:320]}"


async def check_backoff(limiter: RateLimiter, *, email: str) -> None:
    """RateLimited while the account's back-off runs."""
    wait = await limiter.backoff_wait(account_key(email))
    if wait > 0:
        raise RateLimited(
            f"too many failed sign-ins for this account; try again in {retry_after(wait)} s"
        )
