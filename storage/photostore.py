"""Content-addressed photo files: one file per SHA-256, written atomically, private to the service.

Keep originals and our own re-encodes in separate stores (see open_photo_stores): originals hold
EXIF GPS and reach only police packets and senior staff; display copies are what everyone sees.
Who may read which store is decided by the policy table, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX: Final = ".tmp-"
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600


class PhotoNotFoundError(LookupError):
    """No photo with that hash in this store."""


class PhotoCorruptError(RuntimeError):
    """A stored file no longer matches its hash."""


def check_sha(sha: str) -> str:
    """sha itself when it is a lowercase hex SHA-256; ValueError otherwise."""
    if not isinstance(sha, str) or _SHA256.fullmatch(sha) is None:
        raise ValueError("not a lowercase hex SHA-256")
    return sha


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PhotoStore:
    """Files named by the SHA-256 of their bytes, sharded as ab/cd/abcd…, mode 0600 in 0700 dirs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._mkdir(self.root, parents=True)
        os.chmod(self.root, _DIR_MODE)

    @staticmethod
    def _mkdir(path: Path, *, parents: bool = False) -> None:
        if parents and not path.parent.exists():
            PhotoStore._mkdir(path.parent, parents=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=_DIR_MODE)
            os.chmod(path, _DIR_MODE)  # mkdir's mode is filtered by the umask

    def path(self, sha: str) -> Path:
        """Where the file for sha lives (whether or not it exists)."""
        sha = check_sha(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def exists(self, sha: str) -> bool:
        """Whether the store holds sha."""
        return self.path(sha).is_file()

    def put(self, data: bytes) -> str:
        """Store data (atomically, idempotently) and return its SHA-256 hex."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if final.is_file() and final.stat().st_size == len(data):
            os.utime(final)  # received again: retention counts from the latest receipt
            return sha
        self._mkdir(final.parent.parent)
        self._mkdir(final.parent)
        fd, temp = _mkstemp(final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(final.parent)
        return sha

    async def aput(self, data: bytes) -> str:
        """put, off the event loop (a write and two fsyncs)."""
        return await asyncio.to_thread(self.put, data)

    async def aget(self, sha: str) -> bytes:
        """get, off the event loop."""
        return await asyncio.to_thread(self.get, sha)

    def list_hashes(self) -> list[str]:
        """Every hash held."""
        return [f.name for f in self._files() if _SHA256.fullmatch(f.name)]

    def get(self, sha: str) -> bytes:
        """The stored bytes for sha, verified against the hash."""
        try:
            data = self.path(sha).read_bytes()
        except FileNotFoundError:
            raise PhotoNotFoundError(sha) from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise PhotoCorruptError(sha)
        return data

    def delete(self, sha: str) -> bool:
        """Remove sha; returns whether there was anything to remove."""
        target = self.path(sha)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(target.parent)
        return True

    def _files(self) -> Iterator[Path]:
        for first in sorted(self.root.iterdir()):
            if first.is_dir() and not first.is_symlink():
                for second in sorted(first.iterdir()):
                    if second.is_dir() and not second.is_symlink():
                        yield from (f for f in second.iterdir() if f.is_file())

    def purge_older_than(
        self, age: timedelta, *, now: datetime | None = None, keep: Collection[str] = ()
    ) -> list[str]:
        """Delete photos last received more than age ago (and stale temp files), except those
        in `keep` (on legal hold); returns hashes."""
        cutoff = (time.time() if now is None else now.timestamp()) - age.total_seconds()
        purged = []
        for file in self._files():
            if file.stat().st_mtime >= cutoff:
                continue
            if _SHA256.fullmatch(file.name):
                if file.name in keep:
                    continue
                file.unlink()
                purged.append(file.name)
            elif file.name.startswith(_TEMP_PREFIX):
                file.unlink()  # left by a crash mid-put
        return purged


def _mkstemp(directory: Path) -> tuple[int, str]:
    """Open a fresh 0600 temp file in directory (same filesystem, so the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=directory)
    os.fchmod(fd, _FILE_MODE)
    return fd, name


class MediaStore(Protocol):
    """What a photo store offers: a local directory (PhotoStore) or S3 (storage.s3store)."""

    def put(self, data: bytes) -> str: ...
    def get(self, sha: str) -> bytes: ...
    def exists(self, sha: str) -> bool: ...
    def delete(self, sha: str) -> bool: ...
    async def aput(self, data: bytes) -> str: ...
    async def aget(self, sha: str) -> bytes: ...
    def purge_older_than(
        self, age: timedelta, *, now: datetime | None = None, keep: Collection[str] = ()
    ) -> list[str]: ...
    def list_hashes(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class PhotoStores:
    """The separate namespaces: originals (restricted), our clean re-encodes, the quarantine of
    untrusted uploads waiting for the photo worker, and the found-person files kept while their
    import runs (both restricted like originals)."""

    originals: MediaStore
    display: MediaStore
    thumbnails: MediaStore
    quarantine: MediaStore
    imports: MediaStore


def open_photo_stores(root: Path) -> PhotoStores:
    """Open (creating if needed) the five stores under root."""
    return PhotoStores(
        originals=PhotoStore(root / "originals"),
        display=PhotoStore(root / "display"),
        thumbnails=PhotoStore(root / "thumbnails"),
        quarantine=PhotoStore(root / "quarantine"),
        imports=PhotoStore(root / "imports"),
    )
