"""The content-addressed photo store: atomic, idempotent, private, and traversal-proof."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.photostore import (
    PhotoCorruptError,
    PhotoNotFoundError,
    PhotoStore,
    open_photo_stores,
)


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "originals")


def test_round_trip_returns_the_same_bytes_under_their_sha256(store: PhotoStore) -> None:
    data = b"\xff\xd8\xff photo bytes"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.get(sha) == data
    assert store.exists(sha)
    assert store.path(sha) == store.root / sha[:2] / sha[2:4] / sha


def test_putting_the_same_bytes_twice_keeps_one_file(store: PhotoStore) -> None:
    first, second = store.put(b"same"), store.put(b"same")
    assert first == second
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [store.path(first)]


def test_files_are_private_to_the_service(store: PhotoStore) -> None:
    sha = store.put(b"child photo")
    assert stat.S_IMODE(store.path(sha).stat().st_mode) == 0o600
    for directory in (store.root, store.path(sha).parent, store.path(sha).parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_private_modes_hold_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = PhotoStore(tmp_path / "display")
        sha = store.put(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path(sha).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path(sha).parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "ab/../../cd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "",
        "0" * 63 + "\n",
        "../" + "a" * 61,
    ],
)
def test_anything_but_a_lowercase_sha256_is_refused(store: PhotoStore, bad: str) -> None:
    for operation in (store.path, store.get, store.exists, store.delete):
        with pytest.raises(ValueError):
            operation(bad)


def test_missing_photo_is_a_clear_error(store: PhotoStore) -> None:
    with pytest.raises(PhotoNotFoundError):
        store.get("0" * 64)
    assert not store.exists("0" * 64)
    assert store.delete("0" * 64) is False


def test_a_tampered_file_is_detected_on_read(store: PhotoStore) -> None:
    sha = store.put(b"evidence")
    store.path(sha).write_bytes(b"edited")
    with pytest.raises(PhotoCorruptError):
        store.get(sha)


def test_delete_removes_the_photo(store: PhotoStore) -> None:
    sha = store.put(b"to forget")
    assert store.delete(sha) is True
    assert not store.exists(sha)


def test_no_temp_file_is_left_behind(store: PhotoStore) -> None:
    store.put(b"a")
    store.put(b"b")
    assert not [p for p in store.root.rglob(".tmp-*")]


def test_purge_removes_only_photos_past_retention(store: PhotoStore) -> None:
    old, fresh = store.put(b"old tip photo"), store.put(b"fresh tip photo")
    long_ago = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    os.utime(store.path(old), (long_ago, long_ago))
    stale_temp = store.path(fresh).parent / ".tmp-crashed"
    stale_temp.write_bytes(b"half")
    os.utime(stale_temp, (long_ago, long_ago))

    purged = store.purge_older_than(timedelta(days=30))

    assert purged == [old]
    assert not store.exists(old) and store.exists(fresh)
    assert not stale_temp.exists()


def test_receiving_a_photo_again_restarts_its_retention(store: PhotoStore) -> None:
    sha = store.put(b"sent twice")
    long_ago = (datetime.now(UTC) - timedelta(days=40)).timestamp()
    os.utime(store.path(sha), (long_ago, long_ago))
    store.put(b"sent twice")
    assert store.purge_older_than(timedelta(days=30)) == []


def test_purge_takes_an_explicit_now(store: PhotoStore) -> None:
    sha = store.put(b"x")
    assert store.purge_older_than(timedelta(days=1), now=datetime.now(UTC) + timedelta(days=2))
    assert not store.exists(sha)


def test_originals_and_copies_live_in_separate_namespaces(tmp_path: Path) -> None:
    stores = open_photo_stores(tmp_path / "photos")
    sha = stores.originals.put(b"original with GPS")
    assert not stores.display.exists(sha) and not stores.thumbnails.exists(sha)
    assert stores.originals.root != stores.display.root != stores.thumbnails.root
    assert stores.originals.root.name == "originals"
