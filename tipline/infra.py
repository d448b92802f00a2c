"""Shared services a deployment adds: Redis (limits shared by processes) and S3 (media).

Both are checked at start-up, so a wrong URL, an unreachable endpoint or a missing bucket stops
`tipline run` with one line and exit status 2 instead of failing on the first tip.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.identity.conversations import RedisConversations
from settings import Settings
from storage.photostore import PhotoStores, open_photo_stores
from tipline.startup import StartupError

if TYPE_CHECKING:
    from storage.s3store import S3Connection


def fsm_prefix(settings: Settings) -> str:
    """A deployment sharing Redis sets its own TIPLINE_REDIS_PREFIX; keys stay keyed hashes."""
    default = settings.redis_prefix == Settings.model_fields["redis_prefix"].default
    return "" if default else settings.redis_prefix


def conversations_in_redis(settings: Settings) -> RedisConversations | None:
    """Where erasure finds conversation state in Redis (None: it is in the database)."""
    if not settings.redis_url:
        return None
    return RedisConversations.from_url(settings.redis_url, prefix=fsm_prefix(settings))


def check_redis(settings: Settings) -> None:
    """Ping TIPLINE_REDIS_URL when it is set."""
    if not settings.redis_url:
        return

    async def ping() -> None:
        client = Redis.from_url(settings.redis_url or "", socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (RedisError, OSError, ValueError) as exc:
        raise StartupError(
            f"cannot reach Redis at TIPLINE_REDIS_URL ({_redacted(settings.redis_url)}): "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _redacted(url: str) -> str:
    """The URL without a password."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@dataclass(slots=True)
class Media:
    """Where photos live, and the S3 client to close at the end (None: local disk)."""

    stores: PhotoStores
    connection: S3Connection | None = None

    def close(self) -> None:
        """Release the S3 client, if any."""
        if self.connection is not None:
            self.connection.close()


def open_media(settings: Settings) -> Media:
    """Local directories under TIPLINE_MEDIA_DIR, or the S3 bucket of TIPLINE_MEDIA_URL."""
    settings.media_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not settings.media_url:
        return Media(open_photo_stores(settings.media_dir))
    # botocore takes a second to import: only deployments with S3 pay for it.
    from storage.s3store import MediaUnavailableError, S3Connection, S3Location, open_s3_stores

    try:
        location = S3Location.from_url(
            settings.media_url,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value()
                if settings.s3_secret_access_key
                else None
            ),
        )
    except ValueError as exc:
        raise StartupError(f"TIPLINE_MEDIA_URL: {exc}") from None
    connection = S3Connection(location)
    try:
        connection.check_bucket()
    except MediaUnavailableError as exc:
        connection.close()
        raise StartupError(f"media storage: {exc}") from None
    return Media(open_s3_stores(connection), connection)
