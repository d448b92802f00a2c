"""Per-person rate limits: sliding windows in memory, or in Redis shared by several workers."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis


class RateLimiter(Protocol):
    """Counts hits per key in a sliding window."""

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when the key is over its limit (the hit is not counted then)."""
        ...


class MemoryRateLimiter:
    """A sliding-window limiter for one process."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when over the limit."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now, window)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def _evict(self, now: float, window: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - window]
        for key in stale:
            del self._hits[key]


class RedisRateLimiter:
    """A sliding-window limiter shared by every worker through Redis sorted sets."""

    def __init__(self, redis: Redis, prefix: str = "tipline:rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, *, limit: int, window: float) -> bool:
        """Record a hit; False when over the limit."""
        now = time.time()
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, 0, now - window)
            pipe.zcard(name)
            _, count = await pipe.execute()
        if int(count) >= limit:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {f"{now:.6f}": now})
            pipe.expire(name, int(window) + 1)
            await pipe.execute()
        return True
