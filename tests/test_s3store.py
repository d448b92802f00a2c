"""Photos on S3 (a real local server: moto in server mode): the PhotoStore contract holds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from storage.photostore import PhotoCorruptError, PhotoNotFoundError
from storage.s3store import (
    MediaUnavailableError,
    S3Connection,
    S3Location,
    S3PhotoStore,
    open_s3_stores,
)
from tests.s3server import ACCESS_KEY, SECRET_KEY, S3Server


def _location(s3: S3Server, bucket: str, prefix: str = "t/") -> S3Location:
    return S3Location(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=s3.endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def connection(s3: S3Server) -> Iterator[S3Connection]:
    connection = S3Connection(_location(s3, s3.new_bucket()))
    yield connection
    connection.close()


def test_put_get_round_trip_under_content_address(connection: S3Connection) -> None:
    store = S3PhotoStore(connection, "originals")
    sha = store.put(b"original bytes")
    assert sha == hashlib.sha256(b"original bytes").hexdigest()
    assert store.get(sha) == b"original bytes"
    assert store.exists(sha)
    assert store.key(sha) == f"t/originals/{sha[:2]}/{sha[2:4]}/{sha}"
    assert store.list_hashes() == [sha]


async def test_awaitable_twins_work_from_the_event_loop(connection: S3Connection) -> None:
    store = S3PhotoStore(connection, "display")
    sha = await store.aput(b"display copy")
    assert await store.aget(sha) == b"display copy"


def test_namespaces_are_apart(connection: S3Connection) -> None:
    stores = open_s3_stores(connection)
    sha = stores.originals.put(b"with gps")
    assert not stores.display.exists(sha)
    with pytest.raises(PhotoNotFoundError):
        stores.display.get(sha)


def test_a_tampered_object_is_refused(connection: S3Connection) -> None:
    store = S3PhotoStore(connection, "originals")
    sha = store.put(b"the real bytes")
    connection.call(
        lambda: connection.client.put_object(
            Bucket=store.bucket, Key=store.key(sha), Body=b"swapped"
        )
    )
    with pytest.raises(PhotoCorruptError):
        store.get(sha)


def test_delete_and_purge(connection: S3Connection) -> None:
    store = S3PhotoStore(connection, "originals")
    sha = store.put(b"to delete")
    assert store.delete(sha) is True
    assert store.delete(sha) is False
    kept = store.put(b"kept")
    assert store.purge_older_than(timedelta(days=1)) == []
    assert store.purge_older_than(timedelta(seconds=-60)) == [kept]
    assert not store.exists(kept)


def test_a_missing_bucket_is_named(s3: S3Server) -> None:
    connection = S3Connection(_location(s3, "no-such-bucket-here"))
    try:
        with pytest.raises(MediaUnavailableError, match="does not exist"):
            connection.check_bucket()
    finally:
        connection.close()


def test_an_unreachable_endpoint_is_named() -> None:
    location = S3Location(bucket="b", prefix="", endpoint_url="http://127.0.0.1:9")
    connection = S3Connection(location)
    try:
        with pytest.raises(MediaUnavailableError, match="cannot reach S3"):
            connection.check_bucket()
    finally:
        connection.close()
