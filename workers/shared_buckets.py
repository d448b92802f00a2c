"""Telegram's flood limits shared by every process through Redis: overall, per chat, per group.

Each relay (and the inbox processor's own replies) takes its tokens here, so N processes together
stay within one global 30/s, and a chat or group hears from all of them at its own pace. A bucket
is a Redis hash (tokens, last refill, paused until) changed by one Lua script at a time, on the
Redis server's clock, so processes on different machines agree. The relay still keeps its local
buckets as a cache: a recipient denied here is paused locally for the wait Redis named.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

from workers.buckets import Limits

# KEYS: buckets; ARGV: rate and capacity of each. All or nothing: takes one token from every
# bucket, or none and answers the longest wait ("0" when taken). Seconds as strings: Lua numbers
# would come back truncated to integers.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local worst, state = 0, {}
for i, key in ipairs(KEYS) do
  local rate, cap = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', key, 'tokens', 'ts', 'paused')
  local tokens, ts, paused = tonumber(v[1]) or cap, tonumber(v[2]) or now, tonumber(v[3]) or 0
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  local wait = 0
  if tokens < 1 then wait = (1 - tokens) / rate end
  if paused > now then wait = math.max(wait, paused - now) end
  if wait > worst then worst = wait end
  state[i] = {tokens, paused, cap / rate + math.max(0, paused - now)}
end
if worst > 0 then return tostring(worst) end
for i, key in ipairs(KEYS) do
  local s = state[i]
  redis.call('HSET', key, 'tokens', s[1] - 1, 'ts', now, 'paused', s[2])
  redis.call('EXPIRE', key, math.ceil(s[3]) + 60)
end
return '0'
"""
# KEYS[1]: a bucket; ARGV: rate, capacity. Whole tokens available now (0 while paused), and the
# seconds until the next one.
_PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused')
local tokens, ts, paused = tonumber(v[1]) or cap, tonumber(v[2]) or now, tonumber(v[3]) or 0
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
if paused > now then return {0, tostring(paused - now)} end
if tokens >= 1 then return {math.floor(tokens), '0'} end
return {0, tostring((1 - tokens) / rate)}
"""
# KEYS: buckets; ARGV: seconds, then capacity/rate of each. Telegram said 429: hold them, empty.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local paused = tonumber(redis.call('HGET', key, 'paused')) or 0
  local tokens = tonumber(redis.call('HGET', key, 'tokens')) or 0
  redis.call('HSET', key, 'tokens', math.min(tokens, 0), 'ts', now,
             'paused', math.max(paused, until_))
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1 + i]) + tonumber(ARGV[1])) + 60)
end
return 1
"""


class SharedBuckets:
    """The relay's buckets in Redis (see the module docstring); `prefix` names its keys."""

    def __init__(self, redis: Redis, limits: Limits, *, prefix: str = "tipline:") -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = f"{prefix}tg:"
        self._take = redis.register_script(_TAKE)
        self._peek = redis.register_script(_PEEK)
        self._pause = redis.register_script(_PAUSE)

    def _buckets(self, recipient: str | None, *, group: bool) -> list[tuple[str, float, float]]:
        limits = self.limits
        found = [(self.prefix + "global", limits.global_per_second, float(limits.global_burst))]
        if recipient is not None:
            chat = (limits.chat_per_second, float(limits.chat_burst))
            found.append((f"{self.prefix}chat:{recipient}", *chat))
        if recipient is not None and group:
            rate = limits.group_per_minute / 60
            found.append((f"{self.prefix}group:{recipient}", rate, float(limits.group_burst)))
        return found

    async def room(self) -> tuple[int, float]:
        """(messages that may go overall now, seconds until the next one when none may)."""
        key, rate, capacity = self._buckets(None, group=False)[0]
        tokens, wait = await self._peek(keys=[key], args=[rate, capacity])
        return int(tokens), float(wait)

    async def take(self, recipients: Sequence[tuple[str, bool]]) -> list[float]:
        """For each (recipient, is_group): take its tokens and the global one; the wait in
        seconds when refused (0.0 when taken). One round trip for the lot."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for recipient, group in recipients:
                buckets = self._buckets(recipient, group=group)
                args = [value for _, rate, cap in buckets for value in (rate, cap)]
                await self._take(keys=[key for key, _, _ in buckets], args=args, client=pipe)
            answers = await pipe.execute()
        return [float(answer) for answer in answers]

    async def pause(self, recipient: str, seconds: float, *, group: bool) -> None:
        """Hold the recipient's buckets for `seconds` (Telegram's retry_after)."""
        buckets = self._buckets(recipient, group=group)[1:]
        args = [seconds, *(cap / rate for _, rate, cap in buckets)]
        await self._pause(keys=[key for key, _, _ in buckets], args=args)

    async def wait_global(self) -> None:
        """Wait for, and take, one global token (the processor's own replies)."""
        key, rate, capacity = self._buckets(None, group=False)[0]
        while True:
            wait = float(await self._take(keys=[key], args=[rate, capacity]))
            if wait <= 0:
                return
            await asyncio.sleep(wait)


class SharedPace:
    """Any set of named buckets in Redis, taken all or none with the same script: a sender's
    limits (its number's throughput, each person's pace; WhatsApp's under `wa:`, SMS's under
    `sms:`), so every relay process keeps them together. Names carry no number:
    `number:<phone number id>` is Meta's id for our business number, `pair:<recipient>` the
    outbox recipient."""

    def __init__(self, redis: Redis, *, prefix: str = "tipline:", channel: str = "wa") -> None:
        self.redis = redis
        self.prefix = f"{prefix}{channel}:"
        self._take = redis.register_script(_TAKE)

    async def take(self, buckets: Sequence[tuple[str, float, float]]) -> float:
        """Take one token from each (name, rate per second, capacity) bucket, or none; the
        wait in seconds when refused (0.0 when taken)."""
        keys = [self.prefix + name for name, _, _ in buckets]
        args = [value for _, rate, capacity in buckets for value in (rate, capacity)]
        return float(await self._take(keys=keys, args=args))
