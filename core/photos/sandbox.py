"""Confinement of the decoder zygote, inherited by every child it forks for a photo.

After Pillow is imported and before any untrusted byte arrives, the zygote:
- enters a fresh network namespace (no interface but a down loopback: no network at all) -
  directly as root, or inside a fresh user namespace when unprivileged ones are permitted;
- changes its root to an empty directory it has already deleted, so no file is reachable by
  path: not the vault key, not /proc (the parent's environment), not the database;
- as root, drops to an unprivileged uid and gid (nobody, no supplementary groups);
- sets no_new_privs, so nothing it runs can gain privileges (no setuid binaries, no file caps).
Its environment is already empty of secrets (processor.py starts it with a fixed one). Each
child also closes every inherited file descriptor but its result pipe.

Each step that the kernel or the container refuses is skipped, not fatal: `gaps()` says in
plain words what does not hold then, and the parent logs it when a zygote starts
(docs/threat-model.md). Without root one step can never hold: the decoder keeps Tipline's own
uid. `probe()` is the test hook that checks each property from inside a child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import tempfile
from typing import Any

NOBODY = 65534
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_GET_NO_NEW_PRIVS = 39
_MAX_FD_PROBED = 1024
_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
    return bool(_libc.unshare(ctypes.c_int(flags)) == 0)


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _own_namespaces() -> str:
    """A fresh network namespace: 'net' as root, 'user+net' unprivileged, '' when refused."""
    if os.geteuid() == 0 and _unshare(_CLONE_NEWNET):
        return "net"
    uid, gid = os.getuid(), os.getgid()
    if not _unshare(_CLONE_NEWUSER | _CLONE_NEWNET):
        return ""
    # Map our own ids, so files keep their owner; we hold capabilities only in the new user
    # namespace, which owns nothing but the new, empty network namespace.
    with contextlib.suppress(OSError):
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return "user+net"


def _empty_root() -> bool:
    """chroot into an empty directory that no longer exists (nothing can be created in it)."""
    path = tempfile.mkdtemp(prefix="tipline-decoder-")
    try:
        os.chdir(path)
        os.rmdir(path)
        os.chroot(".")
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        os.chdir("/")
        return False
    os.chdir("/")
    return True


def _drop_root() -> None:
    if os.geteuid() != 0:
        return
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def _no_new_privs() -> bool:
    _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return bool(_libc.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)


def confine() -> dict[str, Any]:
    """Confine this process (the zygote) for good; what holds, for the parent to report."""
    namespaces = _own_namespaces()
    chrooted = _empty_root()
    _drop_root()
    return {
        "network_namespace": namespaces,
        "empty_root": chrooted,
        "uid": os.getuid(),
        "no_new_privs": _no_new_privs(),
    }


def without_root(euid: int) -> str | None:
    """What `tipline run` says at start when it is not root (None as root)."""
    if euid == 0:
        return None
    return (
        f"not running as root: photo decoders will keep uid {euid} (only root can drop them to "
        "nobody), so a compromised decoder could signal Tipline's processes; the first "
        "decoder's start logs anything else its confinement lacks (docs/threat-model.md)"
    )


def gaps(confined: dict[str, Any], *, parent_uid: int) -> list[str]:
    """What the zygote's confinement (as `confine()` reported it) does not hold, in plain words."""
    missing = []
    if not confined.get("network_namespace"):
        missing.append(
            "no network namespace (user namespaces refused): a compromised decoder could open "
            "network connections"
        )
    if not confined.get("empty_root"):
        missing.append(
            "no empty root: a compromised decoder could read any file Tipline's user can read, "
            "the vault key file and /proc/<pid>/environ included"
        )
    if confined.get("uid") == parent_uid:
        missing.append(
            f"decoders keep Tipline's own uid {parent_uid} (only root can drop them to nobody): "
            "a compromised decoder could signal Tipline's processes, and trace them where "
            "kernel.yama.ptrace_scope is 0"
        )
    if not confined.get("no_new_privs"):
        missing.append("no_new_privs is not set")
    return missing


def close_inherited_fds(keep: int) -> None:
    """Close every descriptor above stderr except `keep` (the child's result pipe)."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def probe(checks: dict[str, Any]) -> dict[str, Any]:
    """Test hook, run in a decoder child: try what the confinement must forbid."""
    found: dict[str, Any] = {"uid": os.getuid(), "environ": sorted(os.environ)}
    found["no_new_privs"] = _libc.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
    found["reads"] = {path: _try_read(path) for path in checks.get("read", [])}
    host, port = checks.get("connect", ["127.0.0.1", 9])
    found["connect"] = _try_connect(str(host), int(port))
    found["setuid_root"] = _try(lambda: os.setuid(0))
    pids = [int(pid) for pid in checks.get("signal", [])]
    found["signal"] = {str(pid): _try(lambda p=pid: os.kill(p, 0)) for pid in pids}
    found["fds"] = [fd for fd in range(_MAX_FD_PROBED) if _is_open(fd)]
    return found


def _try(action: Any) -> str:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - any refusal is an answer; only success is not
        return type(exc).__name__
    return "ok"


def _try_read(path: str) -> str:
    def read() -> None:
        with open(path, "rb") as handle:
            handle.read(1)

    return _try(read)


def _try_connect(host: str, port: int) -> str:
    def connect() -> None:
        with socket.create_connection((host, port), timeout=1):
            pass

    return _try(connect)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
