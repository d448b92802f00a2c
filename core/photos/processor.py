"""Parent side: quarantine untrusted photo bytes in decoder children forked by a warm zygote."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Final

from core.photos import errors, sandbox, wire
from core.photos.answer import read_answer
from core.photos.errors import PhotoRejected
from core.photos.models import DEFAULT_LIMITS, PhotoLimits, ProcessedPhoto
from core.photos.sniff import describe_refused, sniff
from core.photos.zygote import widen_pipe

_ROOT: Final = str(Path(__file__).resolve().parents[2])
_BOOT: Final = (
    "import sys; sys.path.insert(0, sys.argv[1]); from core.photos.zygote import main; main()"
)
# Only what the decoder needs: never the service's secrets (bot token, database URL, vault key).
_ENV: Final = {
    "PATH": os.defpath,
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",  # numpy's BLAS threads would eat the child's address space
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
_START_TIMEOUT: Final = 60.0
_SLACK: Final = 5.0
_MAX_RESPONSE: Final = 256 * 1024 * 1024
log = logging.getLogger("tipline.photos")
# What the decoders' confinement lacked, as already logged (each outcome once per process).
_REPORTED: set[str] = set()
_REPORTED_LOCK = threading.Lock()


class _Zygote:
    """One zygote process and its pipes; used by one thread at a time."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-I", "-c", _BOOT, _ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_ENV,
            cwd="/",
            close_fds=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdin.fileno(), self._proc.stdout.fileno()
        self._closed = False
        widen_pipe(self._in)
        os.set_blocking(self._in, False)  # so a wedged zygote cannot block us past a deadline
        try:
            header, _ = wire.read_frame(
                self._out, deadline=time.monotonic() + _START_TIMEOUT, max_bytes=wire.MAX_HEADER
            )
        except wire.FrameError:
            self.close()
            raise
        if header.get("ready") is not True:
            self.close()
            raise wire.FrameError("zygote did not start")
        self.confinement: dict[str, Any] = dict(header.get("sandbox") or {})
        _report(self.confinement)

    @property
    def pid(self) -> int:
        """The zygote's process id."""
        return self._proc.pid

    def ask(self, frame: bytes, *, timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request frame and wait for its response."""
        if self._closed:  # the fd numbers may already belong to someone else
            raise wire.FrameError("zygote closed")
        deadline = time.monotonic() + timeout
        wire.write_all(self._in, frame, deadline=deadline)
        return wire.read_frame(self._out, deadline=deadline, max_bytes=_MAX_RESPONSE)

    def close(self) -> None:
        """Stop the zygote: EOF on stdin, then a kill if it lingers."""
        self._closed = True
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _report(confinement: dict[str, Any]) -> None:
    """Say once per process how the decoders are confined, plainly when something is missing."""
    missing = sandbox.gaps(confinement, parent_uid=os.getuid())
    said = "; ".join(missing) or "all"
    with _REPORTED_LOCK:
        if said in _REPORTED:
            return
        _REPORTED.add(said)
    if missing:
        log.warning("photo decoders are confined less than designed (threat model): %s", said)
    else:
        log.info(
            "photo decoders confined: no network, empty root, uid %s, no_new_privs",
            confinement.get("uid"),
        )


def _admit(data: bytes, limits: PhotoLimits) -> str:
    """Refuse before any decoding what is empty, oversized or not a supported type."""
    if not data:
        raise PhotoRejected(errors.EMPTY)
    if len(data) > limits.max_input_bytes:
        raise PhotoRejected(errors.TOO_LARGE, "This file is too large to process.")
    kind = sniff(data)
    if kind is None:
        raise errors.unsupported(describe_refused(data))
    return kind


def _request_limits(limits: PhotoLimits) -> dict[str, Any]:
    return {
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "wall_seconds": limits.wall_seconds,
        "max_pixels": limits.max_pixels,
    }


class PhotoProcessor:
    """A small pool of decoder zygotes; safe to share between threads."""

    def __init__(self, *, workers: int = 1) -> None:
        self._idle: queue.SimpleQueue[_Zygote | None] = queue.SimpleQueue()
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._idle.put(None)  # a slot; its zygote starts on first use

    def warm_up(self) -> None:
        """Start one zygote now, so the first photo does not pay Pillow's import time."""
        self._release(self._acquire())

    def confinement(self) -> dict[str, Any]:
        """What confines the decoders (core/photos/sandbox.py), as the zygote reported it."""
        zygote = self._acquire()
        try:
            return dict(zygote.confinement)
        finally:
            self._release(zygote)

    def probe(self, checks: dict[str, Any]) -> dict[str, Any]:
        """Test hook: run sandbox.probe in a decoder child; what it could and could not do."""
        request = {"probe": checks, **_request_limits(DEFAULT_LIMITS)}
        header, _ = self._ask(wire.pack(request, b""), timeout=DEFAULT_LIMITS.wall_seconds + _SLACK)
        return dict(header.get("probe") or {})

    def zygote_pids(self) -> list[int]:
        """Process ids of the running zygotes (for monitoring and tests)."""
        with self._lock:
            return [zygote.pid for zygote in self._all]

    def _acquire(self) -> _Zygote:
        zygote = self._idle.get()
        if self._closed:
            self._idle.put(None)  # wake the next waiter, who will find us closed too
            raise PhotoRejected(errors.UNAVAILABLE)
        if zygote is not None:
            return zygote
        try:
            zygote = _Zygote()
        except (OSError, wire.FrameError) as exc:
            self._idle.put(None)
            raise PhotoRejected(errors.UNAVAILABLE) from exc
        with self._lock:
            self._all.append(zygote)
        return zygote

    def _release(self, zygote: _Zygote) -> None:
        if self._closed:
            self._discard(zygote)  # close() ran while this one was busy
        else:
            self._idle.put(zygote)

    def _forget(self, zygote: _Zygote) -> None:
        with self._lock:
            if zygote in self._all:
                self._all.remove(zygote)
        zygote.close()

    def _discard(self, zygote: _Zygote) -> None:
        self._forget(zygote)
        self._idle.put(None)  # its slot: a fresh zygote starts on next use

    def _ask(self, frame: bytes, *, timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        """One round trip, retried once on a fresh zygote: a dead zygote isn't the photo's fault."""
        for attempt in (1, 2):
            zygote = self._acquire()
            try:
                answer = zygote.ask(frame, timeout=timeout)
            except (OSError, wire.FrameError) as exc:
                self._discard(zygote)  # its stream is out of step or it died: start afresh
                if attempt == 2:
                    raise PhotoRejected(errors.UNAVAILABLE) from exc
                continue
            self._release(zygote)
            return answer
        raise AssertionError("unreachable")

    def process(
        self,
        data: bytes,
        *,
        max_display: int = 2048,
        max_thumb: int = 512,
        limits: PhotoLimits = DEFAULT_LIMITS,
    ) -> ProcessedPhoto:
        """Decode untrusted bytes in a limited child; raise PhotoRejected on any failure."""
        kind = _admit(data, limits)
        request = {
            "kind": kind,
            "max_display": max_display,
            "max_thumb": max_thumb,
            **_request_limits(limits),
        }
        header, blobs = self._ask(wire.pack(request, data), timeout=limits.wall_seconds + _SLACK)
        return read_answer(data, header, blobs, kind=kind)

    def close(self) -> None:
        """Stop the idle zygotes now and busy ones when their photo is done; no new work."""
        self._closed = True
        idle = []
        while True:
            try:
                idle.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for zygote in idle:
            if zygote is not None:
                self._forget(zygote)
        self._idle.put(None)  # lets anyone blocked in _acquire see that we are closed

    def __enter__(self) -> PhotoProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: PhotoProcessor | None = None
_default_lock = threading.Lock()


def default_processor() -> PhotoProcessor:
    """The process-wide processor, started on first use and stopped at exit."""
    global _default  # noqa: PLW0603 - one lazily built pool per process
    with _default_lock:
        if _default is None:
            _default = PhotoProcessor(workers=max(1, min(4, os.cpu_count() or 1)))
            atexit.register(_default.close)
        return _default


def process_photo(
    data: bytes,
    *,
    max_display: int = 2048,
    max_thumb: int = 512,
    limits: PhotoLimits = DEFAULT_LIMITS,
    processor: PhotoProcessor | None = None,
) -> ProcessedPhoto:
    """Sanitise one untrusted photo in a resource-limited subprocess (blocking)."""
    chosen = processor or default_processor()
    return chosen.process(data, max_display=max_display, max_thumb=max_thumb, limits=limits)


async def process_photo_async(
    data: bytes,
    *,
    max_display: int = 2048,
    max_thumb: int = 512,
    limits: PhotoLimits = DEFAULT_LIMITS,
    processor: PhotoProcessor | None = None,
) -> ProcessedPhoto:
    """Like process_photo, on a worker thread so the event loop keeps running."""
    return await asyncio.to_thread(
        process_photo,
        data,
        max_display=max_display,
        max_thumb=max_thumb,
        limits=limits,
        processor=processor,
    )
