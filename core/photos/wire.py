"""Length-prefixed frames (a JSON header plus raw blobs) spoken between parent, zygote and child.

No pickle anywhere: a decoder child that was subverted by a hostile file can at worst send a
malformed frame, which the reader refuses.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

MAGIC = b"TLP1"
_PREFIX = struct.Struct(">4sII")  # magic, header length, blob count
_BLOB_LEN = struct.Struct(">Q")
MAX_HEADER = 64 * 1024
MAX_BLOBS = 4


class FrameError(Exception):
    """A frame was malformed, too large, cut short or late."""


def pack(header: dict[str, Any], *blobs: bytes) -> bytes:
    """Encode a header and blobs as one frame."""
    head = json.dumps(header, separators=(",", ":")).encode()
    lengths = b"".join(_BLOB_LEN.pack(len(blob)) for blob in blobs)
    return b"".join((_PREFIX.pack(MAGIC, len(head), len(blobs)), lengths, head, *blobs))


def _wait(fd: int, *, writing: bool, deadline: float | None) -> None:
    """Block until fd is ready, or raise FrameError once the deadline has passed."""
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise FrameError("timed out")
    ready = select.select([], [fd], [], left) if writing else select.select([fd], [], [], left)
    if not any(ready):
        raise FrameError("timed out")


def write_all(fd: int, data: bytes, *, deadline: float | None = None) -> None:
    """Write every byte (fd may be non-blocking), or raise FrameError past the deadline."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            _wait(fd, writing=True, deadline=deadline)
            continue
        view = view[written:]


def read_exact(fd: int, size: int, *, deadline: float | None) -> bytes:
    """Read exactly size bytes, or raise FrameError on EOF or when the deadline passes."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            _wait(fd, writing=False, deadline=deadline)
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise FrameError("end of stream")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(
    fd: int, *, deadline: float | None, max_bytes: int
) -> tuple[dict[str, Any], list[bytes]]:
    """Read one frame, refusing anything larger than max_bytes in total."""
    magic, head_len, count = _PREFIX.unpack(read_exact(fd, _PREFIX.size, deadline=deadline))
    if magic != MAGIC or head_len > MAX_HEADER or count > MAX_BLOBS:
        raise FrameError("bad frame prefix")
    raw_lengths = read_exact(fd, _BLOB_LEN.size * count, deadline=deadline)
    lengths = [_BLOB_LEN.unpack_from(raw_lengths, i * _BLOB_LEN.size)[0] for i in range(count)]
    if head_len + sum(lengths) > max_bytes:
        raise FrameError("frame too large")
    try:
        header = json.loads(read_exact(fd, head_len, deadline=deadline))
    except ValueError as exc:
        raise FrameError("bad frame header") from exc
    if not isinstance(header, dict):
        raise FrameError("bad frame header")
    blobs = [read_exact(fd, length, deadline=deadline) for length in lengths]
    return header, blobs
