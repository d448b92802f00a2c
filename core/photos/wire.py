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


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int, *, deadline: float | None) -> bytes:
    """Read exactly size bytes, or raise FrameError on EOF or when the deadline passes."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise FrameError("timed out")
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
