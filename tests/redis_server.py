"""The Redis the tests use (TIPLINE_TEST_REDIS_URL): required in CI, skipped without it locally."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.databases import IN_CI
from workers.shared_buckets import SharedPace

REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def require_redis() -> None:
    """Fail in CI, skip elsewhere, when the test Redis does not answer."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    finally:
        await client.aclose()


async def dump(client: Redis, match: str) -> dict[str, str]:
    """Every key matching `match` and its value as text (a string's own; the repr of a hash,
    list or set)."""
    found: dict[str, str] = {}
    async for raw in client.scan_iter(match=match):
        name = raw.decode("latin-1")
        kind = (await client.type(raw)).decode()
        if kind == "string":
            found[name] = (await client.get(raw) or b"").decode("utf-8", "replace")
            continue
        value: object
        if kind == "hash":
            value = await client.hgetall(raw)
        elif kind == "list":
            value = await client.lrange(raw, 0, -1)
        elif kind == "set":
            value = await client.smembers(raw)
        elif kind == "zset":
            value = await client.zrange(raw, 0, -1)
        else:
            value = kind
        found[name] = repr(value)
    return found


def hits(held: dict[str, str], needles: list[str]) -> list[tuple[str, str]]:
    """(key, needle) for each needle found in a key's name or value (as `dump` gives them)."""
    return [
        (name, needle)
        for name, value in held.items()
        for needle in needles
        if needle in name or needle in value
    ]


@asynccontextmanager
async def two_paces(channel: str) -> AsyncIterator[list[SharedPace]]:
    """Two relay processes' shared limits on the test Redis, under a prefix of their own
    (its keys removed after); skipped (failed in CI) without Redis."""
    await require_redis()
    prefix = f"t{secrets.token_hex(4)}:"
    paces = [SharedPace(Redis.from_url(REDIS_URL), prefix=prefix, channel=channel) for _ in "ab"]
    try:
        yield paces
    finally:
        client = paces[0].redis
        leftover = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if leftover:
            await client.delete(*leftover)
        for pace in paces:
            await pace.redis.aclose()
