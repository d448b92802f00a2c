"""Conversation state kept in Redis (TIPLINE_REDIS_URL), named so that erasure can find it.

The bot's key builder (bot.fsm.KeyedStateKeys) names a chat's Redis keys with `redis_name`;
erasure rebuilds the same names from the vault's record of the person and deletes them.
"""

from __future__ import annotations

from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import TiplineError
from core.identity.vault import Vault

Part = Literal["data", "state", "lock"]
PARTS: tuple[Part, ...] = ("state", "data", "lock")


def chat_state_key(vault: Vault, *, channel: str, external_id: str) -> str:
    """The conversation-state key of a person on a channel other than Telegram (their number
    keyed under the vault's lookup key, in the channel's own namespace: "whatsapp:<hmac>")."""
    return f"{channel}:" + vault.keyed(f"{channel}-conversation", external_id)


class ConversationsUnavailable(TiplineError):
    """Redis did not answer: nothing was erased (the erasure rolls back), try again later."""


def redis_name(prefix: str, key: str, part: Part | None = None) -> str:
    """The Redis key of one part (state, data, lock) of a conversation (`key` is keyed)."""
    built = prefix + key
    return f"{built}:{part}" if part else built


class RedisConversations:
    """The Redis side of conversation state, as erasure sees it."""

    def __init__(self, redis: Redis, *, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "") -> RedisConversations:
        """Connect lazily to the Redis the bot keeps its conversation state in."""
        return cls(Redis.from_url(url), prefix=prefix)

    async def forget(self, key: str) -> int:
        """Delete a conversation's state, data and lock; how many of them there were."""
        names = [redis_name(self.prefix, key, part) for part in PARTS]
        try:
            return int(await self.redis.delete(*names))
        except RedisError as exc:
            raise ConversationsUnavailable(
                "the conversation store (Redis) did not answer: nothing was erased; try again "
                "when it is back"
            ) from exc

    async def close(self) -> None:
        """Release the connection pool."""
        await self.redis.aclose()
