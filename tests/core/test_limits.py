"""Abuse limits: sliding windows with a Retry-After, a capped back-off, bounded memory; the same
behaviour from the Redis limiter shared by several processes."""

from __future__ import annotations

import os
import secrets

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from core.limits import (
    Backoff,
    MemoryRateLimiter,
    RedisRateLimiter,
    admit_rates,
    parse_rates,
    retry_after,
)

REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_back_off_doubles_after_the_free_tries_and_stops_at_its_cap():
    policy = Backoff(free=3, base=2.0, cap=900.0)
    waits = [policy.wait(n) for n in range(1, 12)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:7] == [2.0, 4.0, 8.0, 16.0]
    assert max(policy.wait(n) for n in range(1, 10_000)) == 900.0


async def test_a_refused_hit_says_when_the_oldest_hit_leaves_the_window():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    assert await limiter.admit("a", limit=2, window=60) == 0.0
    clock.now += 10
    assert await limiter.admit("a", limit=2, window=60) == 0.0
    clock.now += 5
    assert await limiter.admit("a", limit=2, window=60) == pytest.approx(45.0)
    clock.now += 45
    assert await limiter.admit("a", limit=2, window=60) == 0.0
    assert retry_after(0.2) == 1


async def test_a_hit_refused_by_one_rate_is_taken_back_from_the_others():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    rates = parse_rates("3/1m,1/1s")
    assert await admit_rates(limiter, "k", rates) == 0.0
    assert await admit_rates(limiter, "k", rates) > 0  # over 1/1s: the minute's hit given back
    clock.now += 1
    assert await admit_rates(limiter, "k", rates) == 0.0
    clock.now += 1
    assert await admit_rates(limiter, "k", rates) == 0.0  # the minute's third
    clock.now += 1
    assert await admit_rates(limiter, "k", rates) == pytest.approx(57.0)


async def test_memory_stays_bounded_however_many_keys_are_tried():
    limiter = MemoryRateLimiter(max_keys=1000)
    policy = Backoff()
    for number in range(50_000):
        await limiter.hit(f"k{number}", limit=5, window=3600)
        await limiter.failed(f"mail{number}@example.org", policy=policy)
    assert len(limiter) <= 2000


async def test_recently_used_keys_survive_the_bound():
    limiter = MemoryRateLimiter(max_keys=10)
    await limiter.hit("busy", limit=1, window=3600)
    for number in range(9):
        await limiter.hit(f"k{number}", limit=1, window=3600)
    assert not await limiter.hit("busy", limit=1, window=3600)  # touched: now the newest
    for number in range(9, 18):
        await limiter.hit(f"k{number}", limit=1, window=3600)
    assert not await limiter.hit("busy", limit=1, window=3600)


async def test_a_key_quiet_for_longer_than_the_cap_starts_again():
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    policy = Backoff(free=1, base=10.0, cap=100.0)
    assert await limiter.failed("k", policy=policy) == 0.0
    assert await limiter.failed("k", policy=policy) == 10.0
    assert await limiter.backoff_wait("k") == 10.0
    clock.now += 101
    assert await limiter.backoff_wait("k") == 0.0
    assert await limiter.failed("k", policy=policy) == 0.0
    await limiter.failed("k", policy=policy)
    await limiter.cleared("k")
    assert await limiter.backoff_wait("k") == 0.0


@pytest.fixture
async def redis_limiter():
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError):
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"test-limits-{secrets.token_hex(4)}:"
    yield RedisRateLimiter(redis, prefix=prefix)
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_redis_limits_count_refuse_and_say_when(redis_limiter):
    assert await redis_limiter.admit("a", limit=2, window=60) == 0.0
    assert await redis_limiter.admit("a", limit=2, window=60) == 0.0
    wait = await redis_limiter.admit("a", limit=2, window=60)
    assert 58 < wait <= 60
    assert await redis_limiter.admit("b", limit=2, window=60) == 0.0


async def test_redis_back_off_holds_across_limiters(redis_limiter):
    policy = Backoff(free=1, base=30.0, cap=100.0)
    assert await redis_limiter.failed("acct", policy=policy) == 0.0
    assert await redis_limiter.failed("acct", policy=policy) == 30.0
    assert 29 < await redis_limiter.backoff_wait("acct") <= 30
    await redis_limiter.cleared("acct")
    assert await redis_limiter.backoff_wait("acct") == 0.0


async def _refunds_give_counts_back(limiter) -> None:
    for _ in range(3):
        assert await limiter.hit("k", limit=2, window=60)
        await limiter.refund("k")  # an attempt that succeeded gives its count back
    assert await limiter.hit("k", limit=2, window=60)
    assert await limiter.hit("k", limit=2, window=60)
    assert not await limiter.hit("k", limit=2, window=60)
    await limiter.refund("never-hit")  # nothing to take back: no error


async def test_a_refunded_hit_no_longer_counts():
    await _refunds_give_counts_back(MemoryRateLimiter())


async def test_a_refunded_hit_no_longer_counts_in_redis(redis_limiter):
    await _refunds_give_counts_back(redis_limiter)
