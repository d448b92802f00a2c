"""Start-up checks that turn configuration mistakes into one clear line and exit status 2."""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from settings import Settings
from storage import migrate

SUPPORTED = {"sqlite+aiosqlite", "postgresql+asyncpg"}
ROLES = ("all", "web", "bot", "worker")
MIN_WEBHOOK_SECRET = 32


def check_role(settings: Settings, role: str) -> None:
    """SQLite is one process (role all); split roles need PostgreSQL and Redis."""
    if role not in ROLES:
        raise StartupError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == "all":
        return
    if settings.is_sqlite:
        raise StartupError(
            f"--role {role} needs PostgreSQL: SQLite is one process (run `tipline run` with "
            "the default role all), or set TIPLINE_DATABASE_URL=postgresql+asyncpg://..."
        )
    if not settings.redis_url:
        raise StartupError(
            f"--role {role} needs TIPLINE_REDIS_URL: processes share Telegram's rate limits "
            "and sign-in throttling through Redis"
        )


def webhook_secret(settings: Settings) -> str:
    """The webhook secret, required (32+ characters) to start in webhook mode."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if len(secret) < MIN_WEBHOOK_SECRET:
        raise StartupError(
            f"webhook mode needs TIPLINE_WEBHOOK_SECRET of at least {MIN_WEBHOOK_SECRET} "
            "characters (letters, digits, _ and -); e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    return secret


class StartupError(Exception):
    """A problem that stops Tipline from starting; the message names the problem and the fix."""


def validate_database_url(url: str) -> str:
    """Check the URL's shape and driver; return its backend name."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StartupError(
            f"TIPLINE_DATABASE_URL is not a database URL: {url!r}. "
            "Use e.g. sqlite+aiosqlite:///./var/tipline.db or "
            "postgresql+asyncpg://user@127.0.0.1/tipline"
        ) from None
    if parsed.drivername not in SUPPORTED:
        raise StartupError(
            f"TIPLINE_DATABASE_URL uses driver {parsed.drivername!r}; Tipline supports "
            "sqlite+aiosqlite and postgresql+asyncpg. Change the URL's scheme."
        )
    return parsed.get_backend_name()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def current_revision(url: str) -> str | None:
    """The schema revision, or a StartupError naming why the database cannot be reached."""
    try:
        return migrate.current_revision_sync(url)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one clear line
        safe = make_url(url).render_as_string(hide_password=True)
        raise StartupError(
            f"cannot reach the database at {safe}: {type(exc).__name__}: {exc}. "
            "Check that the server is running and TIPLINE_DATABASE_URL is right."
        ) from None


def private_directory(path: Path) -> None:
    """Create a directory only its owner can enter (0700), tightening one that exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def private_database_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, often 0644);
    SQLite gives its -wal and -shm files the database file's permissions."""
    if not path.parent.exists():
        private_directory(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            each.chmod(0o600)


def prepare_database(settings: Settings, *, vault_key: str | None = None) -> str:
    """Migrate the embedded SQLite database; require PostgreSQL to be at head already."""
    url = settings.database_url
    backend = validate_database_url(url)
    head = migrate.head_revision(url)
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            private_database_file(path)
        current_revision(url)
        migrate.upgrade(url, vault_key=vault_key)
        return head
    revision = current_revision(url)
    if revision != head:
        raise StartupError(
            f"the database is at migration {revision or 'none (empty)'}, the code needs {head}. "
            "Run `tipline db upgrade` (PostgreSQL is never migrated implicitly)."
        )
    return head


def lock_instance(settings: Settings) -> IO[str] | None:
    """Hold an exclusive lock so a second `tipline run` on the same SQLite file stops at once."""
    path = sqlite_path(settings.database_url) if settings.is_sqlite else None
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 - held for the run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StartupError(
            f"another `tipline run` is already using {path}. Stop it first, or point "
            "TIPLINE_DATABASE_URL at another file."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the web port up front so 'address in use' is a clear error, not a hang."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror}. Another program is using the port; "
            "stop it or set TIPLINE_WEB_PORT."
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock
