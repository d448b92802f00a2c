"""The decoder zygote: a long-lived process that has imported Pillow once and forks a fresh,
resource-limited child for every photo.

Started by processor.py with a clean environment (no service secrets) and only stdin/stdout/stderr.
Once warm it confines itself (sandbox.py: no network, no files, no root, no new privileges), so
every child is born confined. It speaks wire.py frames: request = limits + the untrusted bytes;
response = the child's result or an error header. The zygote never parses image data itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from core.photos import errors, sandbox, wire

DECODER_NICENESS = 10
"""How much lower the decoders run than the process that started them: a burst of photos (or a
flood of hostile ones, each allowed seconds of CPU) yields to webhook admission and answers."""
_CHILD_MAX_OUTPUT = 256 * 1024 * 1024
_REQUEST_MAX = 1024 * 1024 * 1024
_ERROR_EXIT = 3


def _preload() -> None:
    """Import everything a child needs, so children start warm and identical."""
    import imagehash  # noqa: F401
    import scipy.fftpack  # noqa: F401 - imagehash.phash imports it lazily
    from PIL import Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    from core.photos import render  # noqa: F401

    with contextlib.suppress(ImportError):
        import pillow_heif

        pillow_heif.register_heif_opener()
    Image.init()
    # After the zygote confines itself no module file is reachable: import now what decoding
    # may look up lazily (text codecs for EXIF and PNG text chunks).
    codecs = ("ascii", "latin_1", "utf_8", "utf_16", "utf_16_be", "utf_16_le", "cp1252", "idna")
    for codec in codecs:
        __import__(f"encodings.{codec}")


def _set_limit(kind: int, soft: int, hard: int) -> None:
    """Lower a limit, never asking for more than the hard limit we inherited."""
    inherited = resource.getrlimit(kind)[1]
    if inherited != resource.RLIM_INFINITY:
        soft, hard = min(soft, inherited), min(hard, inherited)
    resource.setrlimit(kind, (soft, hard))


def _limit_self(request: dict[str, Any]) -> None:
    """Apply per-photo limits inside the child, before it touches any untrusted byte."""
    cpu = int(request["cpu_seconds"])
    memory = int(request["memory_bytes"])
    _set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL after
    _set_limit(resource.RLIMIT_AS, memory, memory)
    _set_limit(resource.RLIMIT_CORE, 0, 0)  # a core dump would be a copy of the photo
    _set_limit(resource.RLIMIT_FSIZE, 0, 0)  # the child writes no files


def _child_main(request: dict[str, Any], data: bytes, out_fd: int, devnull: int) -> None:
    """Run in the forked child: limit, decode, report one frame, exit without cleanup."""
    # The child must not touch the zygote's pipes to the parent; and with RLIMIT_FSIZE at 0 a
    # stray warning written to a stderr that is a regular file would kill it with SIGXFSZ.
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sandbox.close_inherited_fds(keep=out_fd)
    _limit_self(request)
    if "probe" in request:  # the tests' look at the confinement from inside a child
        frame = wire.pack(
            {"ok": False, "reason": "probe", "probe": sandbox.probe(request["probe"])}
        )
        wire.write_all(out_fd, frame)
        return
    from PIL import Image

    from core.photos.render import render

    Image.MAX_IMAGE_PIXELS = int(request["max_pixels"])
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        header, display, thumb = render(
            data,
            kind=str(request["kind"]),
            max_display=int(request["max_display"]),
            max_thumb=int(request["max_thumb"]),
        )
        header["ok"] = True
        header["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        frame = wire.pack(header, display, thumb)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        frame = wire.pack({"ok": False, "reason": errors.TOO_LARGE})
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a damaged photo
        frame = wire.pack({"ok": False, "reason": errors.DAMAGED, "detail": type(exc).__name__})
    wire.write_all(out_fd, frame)


def _classify(status: int, timed_out: bool) -> dict[str, Any]:
    if timed_out:
        return {"ok": False, "reason": errors.TIMEOUT, "detail": "wall clock"}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        reason = errors.TIMEOUT if sig in (signal.SIGXCPU, signal.SIGKILL) else errors.CRASHED
        return {"ok": False, "reason": reason, "detail": signal.Signals(sig).name}
    return {"ok": False, "reason": errors.CRASHED, "detail": f"exit {os.WEXITSTATUS(status)}"}


def _reap(pid: int, deadline: float) -> tuple[int, bool]:
    """Wait for the child until the deadline, then kill it; returns (status, timed_out)."""
    pidfd = os.pidfd_open(pid)
    try:
        exited = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]
    finally:
        os.close(pidfd)
    if not exited:
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1], not exited


def widen_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer: a 5 MB photo then crosses in a few syscalls, not eighty."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)


def _fork_child(request: dict[str, Any], data: bytes, devnull: int) -> tuple[int, int]:
    """Fork the decoder child; returns (pid, read end of its result pipe)."""
    read_fd, write_fd = os.pipe()
    widen_pipe(write_fd)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, measured by the tests from outside
        code = 0
        try:
            os.close(read_fd)
            _child_main(request, data, write_fd, devnull)
        except BaseException:  # noqa: BLE001 - the forked child must never unwind
            code = _ERROR_EXIT
        os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def handle(
    request: dict[str, Any], data: bytes, reply: Callable[[bytes], None], *, devnull: int
) -> None:
    """Decode one photo in a fresh child and reply with its result or with what went wrong."""
    deadline = time.monotonic() + float(request["wall_seconds"])
    pid, read_fd = _fork_child(request, data, devnull)
    try:
        header, blobs = wire.read_frame(read_fd, deadline=deadline, max_bytes=_CHILD_MAX_OUTPUT)
    except wire.FrameError:
        header, blobs = {}, []
    finally:
        os.close(read_fd)
    if header.get("ok") is True and len(blobs) == 2:
        reply(wire.pack(header, *blobs))  # don't make the parent wait while the child exits
        _reap(pid, deadline)
        return
    status, timed_out = _reap(pid, deadline)
    if header.get("ok") is False and "reason" in header and not timed_out:
        reply(wire.pack(header))
    else:
        reply(wire.pack(_classify(status, timed_out)))


def serve(in_fd: int, out_fd: int, *, devnull: int, confined: dict[str, Any]) -> None:
    """Answer requests until the parent closes our stdin."""
    widen_pipe(out_fd)
    wire.write_all(out_fd, wire.pack({"ready": True, "sandbox": confined}))
    while True:
        try:
            request, blobs = wire.read_frame(in_fd, deadline=None, max_bytes=_REQUEST_MAX)
        except wire.FrameError:
            return  # parent gone or confused: either way, stop
        try:
            handle(
                request,
                blobs[0] if blobs else b"",
                lambda frame: wire.write_all(out_fd, frame),
                devnull=devnull,
            )
        except BrokenPipeError:
            return
        del request, blobs  # hold no photo while idle


def main() -> None:
    """Entry point of the zygote process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    os.nice(DECODER_NICENESS)  # every child inherits it
    _preload()
    devnull = os.open(os.devnull, os.O_RDWR)  # children's stdio; /dev is out of reach later
    confined = sandbox.confine()
    serve(sys.stdin.fileno(), sys.stdout.fileno(), devnull=devnull, confined=confined)


if __name__ == "__main__":
    main()
