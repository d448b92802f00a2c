"""Run the photo decoders as Tipline does when it is not root: started as root, this process
drops to nobody (65534, no groups) for good, then starts a PhotoProcessor and reports, as JSON on
stdout, what the zygote says of its confinement, what a decoder child could do (sandbox.probe),
what it logged, and how a good and two hostile photos fared.

Run by tests/core/photos/test_sandbox_nonroot.py as `python -m tests.core.photos.decoder_as_nobody`.
Before dropping root it makes its own interpreter reachable for nobody: in a private mount
namespace of its own (nothing outside it changes), a directory nobody cannot traverse on the
way (such as /root, holding a pyenv or uv Python) is covered with an empty tmpfs in which only
the needed entries are bound back.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from core.photos import PhotoProcessor
from core.photos.errors import PhotoRejected
from core.photos.sandbox import NOBODY
from tests.core.photos import photo_corpus as corpus

CANARY = "TIPLINE_TEST_CANARY_SECRET"
_CLONE_NEWNS = 0x00020000
ROOT = Path(__file__).resolve().parents[3]


def _closed_to_others(path: Path) -> bool:
    return not path.stat().st_mode & 0o001


def _needed() -> list[Path]:
    paths = {Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix), ROOT}
    return sorted(paths | {Path(p) for p in sys.path if p and Path(p).is_dir()})


def _blocking_dirs() -> dict[Path, set[str]]:
    """Each directory nobody cannot traverse, and the entries below it that are needed."""
    blocking: dict[Path, set[str]] = defaultdict(set)
    for path in _needed():
        for parent, child in zip(path.parents[::-1][1:], path.parts[2:], strict=False):
            if _closed_to_others(parent):
                blocking[parent].add(child)
                break
    return blocking


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _private_mounts() -> None:
    """A mount namespace of this process's own: what is mounted below is seen by nobody else."""
    if ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    _mount("--make-rprivate", "/")


def _open_the_way(work: Path) -> None:
    """Cover each blocking directory with an empty, traversable tmpfs; bind the needed back."""
    for directory, children in _blocking_dirs().items():
        stash = Path(tempfile.mkdtemp(prefix="stash-", dir=work))
        for child in children:
            (stash / child).mkdir()
            _mount("--bind", str(directory / child), str(stash / child))
        _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(directory))
        for child in children:
            (directory / child).mkdir()
            _mount("--bind", str(stash / child), str(directory / child))


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def _vault_key_of_nobody(work: Path) -> str:
    """A key file as Tipline's own user keeps it: 0600 and theirs (here nobody's)."""
    key = work / "vault.key"
    key.write_text("not a real key\n")
    os.chown(key, NOBODY, NOBODY)
    key.chmod(0o600)
    return str(key)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def look_inside(
    processor: PhotoProcessor, *, vault_key: str, port: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The zygote's confinement, and what a decoder child could do: read the key file and
    the parent's and zygote's environments, connect to `port`, signal this process."""
    confinement = processor.confinement()
    zygote = processor.zygote_pids()[0]
    checks = {
        "read": [vault_key, f"/proc/{os.getpid()}/environ", f"/proc/{zygote}/environ"],
        "connect": ["127.0.0.1", port],
        "signal": [os.getpid()],
    }
    return confinement, processor.probe(checks)


def _fate(processor: PhotoProcessor, data: bytes) -> str:
    try:
        photo = processor.process(data)
    except PhotoRejected as exc:
        return f"refused:{exc.reason_code}"
    return f"decoded:{photo.width}x{photo.height}"


def _run(vault_key: str, server: socket.socket) -> dict[str, Any]:
    port = server.getsockname()[1]
    with open(vault_key, "rb") as handle:
        parent_reads_key = bool(handle.read(1))
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        parent_connects = True
    with PhotoProcessor(workers=1) as processor:
        confinement, inside = look_inside(processor, vault_key=vault_key, port=port)
        fates = {
            "jpeg": _fate(processor, corpus.plain_jpeg()),
            "png_bomb": _fate(processor, corpus.png_bomb()),
            "truncated_jpeg": _fate(processor, corpus.truncated_jpeg()),
        }
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "parent_reads_key": parent_reads_key,
        "parent_connects": parent_connects,
        "confinement": confinement,
        "inside": inside,
        "fates": fates,
    }


def main() -> None:
    """Drop to nobody, decode, report (JSON on stdout); argv[1]: a work directory (0755)."""
    if os.geteuid() != 0:
        raise SystemExit("run as root: this drops to nobody itself")
    work = Path(sys.argv[1])
    _private_mounts()
    _open_the_way(work)
    vault_key = _vault_key_of_nobody(work)
    os.environ[CANARY] = "the parent's secret"
    _drop_to_nobody()
    lines = _Lines()
    logging.getLogger("tipline.photos").addHandler(lines)
    logging.getLogger("tipline.photos").setLevel(logging.INFO)
    server = socket.create_server(("127.0.0.1", 0))
    try:
        found = _run(vault_key, server)
    finally:
        server.close()
    found["log"] = lines.lines
    print(json.dumps(found))


if __name__ == "__main__":
    main()
