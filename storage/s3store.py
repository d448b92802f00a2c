"""Photos on S3-compatible storage (AWS S3, MinIO, Ceph, Garage...), through aiobotocore.

Same content-addressed names and the same interface as the local PhotoStore (put, get, exists,
delete, purge_older_than), plus awaitable twins for code on the event loop. One aiobotocore
client runs on its own small event loop in a daemon thread (`S3Connection`): the blocking calls,
made from worker threads (`asyncio.to_thread(store.get, sha)` in the web layer), and the
awaitable ones, made from the main loop, both go through it, so the main loop never waits on the
network and one client (one connection pool) serves the process.

Nothing here makes an object public: the bucket stays private, originals live under their own
prefix and reach only the code paths the policy table allows, and display copies are streamed by
the app after its own checks (no signed URLs that would outlive the check).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable, Callable, Collection, Coroutine
from concurrent.futures import Future
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from storage.photostore import PhotoCorruptError, PhotoNotFoundError, PhotoStores, check_sha

T = TypeVar("T")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class MediaUnavailableError(OSError):
    """The S3 endpoint or bucket cannot be used; the message names the problem.

    An OSError, like a failing local disk: callers that keep what was typed and ask to retry
    (the web forms), or park a photo until storage is back (the workers), treat both alike."""


def _unavailable(exc: ClientError | BotoCoreError) -> MediaUnavailableError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return MediaUnavailableError(f"S3 refused: {code}")
    return MediaUnavailableError(f"S3 unreachable: {type(exc).__name__}")


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where media go: endpoint (None: AWS), region, bucket, key prefix and credentials."""

    bucket: str
    prefix: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> S3Location:
        """s3://bucket/prefix (the prefix may be empty)."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        prefix = parsed.path.strip("/")
        return cls(bucket=parsed.netloc, prefix=f"{prefix}/" if prefix else "", **kwargs)


class S3Connection:
    """One aiobotocore S3 client on a private event loop thread."""

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="s3", daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()
        self.client: Any = self._submit(self._open()).result()

    async def _open(self) -> Any:
        loc = self.location
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        creator = get_session().create_client(
            "s3",
            region_name=loc.region,
            endpoint_url=loc.endpoint_url,
            aws_access_key_id=loc.access_key_id,
            aws_secret_access_key=loc.secret_access_key,
            config=config,
        )
        return await self._stack.enter_async_context(creator)

    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `work()` on the S3 loop and wait (from any thread but the S3 loop's own)."""
        return self._submit(work()).result()

    def acall(self, work: Callable[[], Coroutine[Any, Any, T]]) -> Awaitable[T]:
        """Run `work()` on the S3 loop; await the result from another loop."""
        return asyncio.wrap_future(self._submit(work()))

    def check_bucket(self) -> None:
        """Raise MediaUnavailableError unless the bucket answers (start-up check)."""
        bucket = self.location.bucket
        where = self.location.endpoint_url or "AWS S3"
        try:
            self.call(lambda: self.client.head_bucket(Bucket=bucket))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND or code == "NoSuchBucket":
                raise MediaUnavailableError(
                    f"bucket {bucket!r} does not exist at {where}"
                ) from None
            raise MediaUnavailableError(f"bucket {bucket!r} at {where} refused: {code}") from None
        except (BotoCoreError, OSError) as exc:
            raise MediaUnavailableError(f"cannot reach S3 at {where}: {exc}") from None

    def close(self) -> None:
        """Close the client and stop the loop thread."""
        self._submit(self._stack.aclose()).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class S3PhotoStore:
    """A PhotoStore on S3: objects named <prefix><namespace>/ab/cd/<sha256>."""

    def __init__(self, connection: S3Connection, namespace: str) -> None:
        self.connection = connection
        self.bucket = connection.location.bucket
        self.root = f"{connection.location.prefix}{namespace}/"

    def key(self, sha: str) -> str:
        """The object key for sha."""
        sha = check_sha(sha)
        return f"{self.root}{sha[:2]}/{sha[2:4]}/{sha}"

    # --- awaitable --------------------------------------------------------------------------

    async def aput(self, data: bytes) -> str:
        """Store data (idempotently: same bytes, same key) and return its SHA-256 hex."""
        return await self.connection.acall(lambda: self._put(data))

    async def aget(self, sha: str) -> bytes:
        """The stored bytes for sha, verified against the hash."""
        return await self.connection.acall(lambda: self._get(sha))

    # --- blocking (from threads) ------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """Blocking put."""
        return self.connection.call(lambda: self._put(data))

    def get(self, sha: str) -> bytes:
        """Blocking get."""
        return self.connection.call(lambda: self._get(sha))

    def exists(self, sha: str) -> bool:
        """Whether the store holds sha."""
        return self.connection.call(lambda: self._exists(sha))

    def delete(self, sha: str) -> bool:
        """Remove sha; returns whether there was anything to remove."""
        return self.connection.call(lambda: self._delete(sha))

    def purge_older_than(
        self, age: timedelta, *, now: datetime | None = None, keep: Collection[str] = ()
    ) -> list[str]:
        """Delete objects last written more than age ago, except those in `keep` (on legal
        hold); returns their hashes."""
        cutoff = (now or datetime.now(UTC)) - age
        return self.connection.call(lambda: self._purge(cutoff, frozenset(keep)))

    def list_hashes(self) -> list[str]:
        """Every hash held (backups list the bucket instead of copying it)."""
        return self.connection.call(self._list)

    # --- on the S3 loop ---------------------------------------------------------------------

    async def _put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        client = self.connection.client
        try:
            await client.put_object(Bucket=self.bucket, Key=self.key(sha), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc
        return sha

    async def _get(self, sha: str) -> bytes:
        client = self.connection.client
        try:
            answer = await client.get_object(Bucket=self.bucket, Key=self.key(sha))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                raise PhotoNotFoundError(sha) from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        async with answer["Body"] as body:
            data: bytes = await body.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise PhotoCorruptError(sha)
        return data

    async def _exists(self, sha: str) -> bool:
        try:
            await self.connection.client.head_object(Bucket=self.bucket, Key=self.key(sha))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return False
            raise
        return True

    async def _delete(self, sha: str) -> bool:
        found = await self._exists(sha)
        if found:
            await self.connection.client.delete_object(Bucket=self.bucket, Key=self.key(sha))
        return found

    async def _objects(self) -> list[dict[str, Any]]:
        paginator = self.connection.client.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.root):
            found.extend(page.get("Contents", []))
        return found

    async def _list(self) -> list[str]:
        return [item["Key"].rsplit("/", 1)[-1] for item in await self._objects()]

    async def _purge(self, cutoff: datetime, keep: frozenset[str]) -> list[str]:
        purged = []
        for item in await self._objects():
            sha = item["Key"].rsplit("/", 1)[-1]
            if item["LastModified"] < cutoff and sha not in keep:
                await self.connection.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                purged.append(sha)
        return purged


def open_s3_stores(connection: S3Connection) -> PhotoStores:
    """The five namespaces (originals, display, thumbnails, quarantine, imports) under the
    prefix."""
    return PhotoStores(
        originals=S3PhotoStore(connection, "originals"),
        display=S3PhotoStore(connection, "display"),
        thumbnails=S3PhotoStore(connection, "thumbnails"),
        quarantine=S3PhotoStore(connection, "quarantine"),
        imports=S3PhotoStore(connection, "imports"),
    )
