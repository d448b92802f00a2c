"""Engine and session factories; the composition root builds them once and passes them down."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from storage.sqlite_driver import DRIVER as ONE_TRIP_DRIVER
from storage.sqlite_driver import mark_inline

SQLITE_POOL = 80
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    # Deleted rows (an erased identity, a reduced update) are overwritten with zeros rather
    # than left readable in free pages of the file.
    "PRAGMA secure_delete=ON",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


class SqliteWriteGate:
    """One SQLite writer at a time per process, queued in asyncio.

    Without it, concurrent writers meet SQLite's busy handler, which sleeps 1-100 ms between
    retries: under load most of the inbox processor's time went to those sleeps. A connection
    takes the gate at its first statement that is not a SELECT and gives it back when it
    returns to the pool (after its commit or rollback).
    """

    def __init__(self, *, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def before_cursor_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        """Wait for the gate before the first write of a transaction."""
        info = conn.info
        if info.get("sqlite_writer") or statement.lstrip()[:6].upper() == "SELECT":
            return
        lock = self._lock()
        try:
            await_(asyncio.wait_for(lock.acquire(), self.timeout))
        except TimeoutError:
            raise TimeoutError(f"database is locked (no write slot in {self.timeout} s)") from None
        info["sqlite_writer"] = lock

    def release(self, _dbapi_connection: Any, record: Any, *_: Any) -> None:
        """Open the gate when the writing connection goes back to the pool (or is dropped)."""
        lock = record.info.pop("sqlite_writer", None)
        if lock is not None:
            lock.release()

    def install(self, engine: AsyncEngine) -> None:
        """Hook the gate into an engine's statements and pool."""
        event.listen(engine.sync_engine, "before_cursor_execute", self.before_cursor_execute)
        event.listen(engine.sync_engine.pool, "checkin", self.release)
        event.listen(engine.sync_engine.pool, "invalidate", self.release)


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An async engine with Tipline's per-backend settings (SQLite pragmas, asyncpg pool)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # One connection (and aiosqlite thread) per concurrent session, kept: with the default
        # 5 + 10 overflow, the inbox processor's 64 concurrent updates queued for connections
        # and reopened one (a thread, the pragmas) on almost every update.
        if parsed.get_driver_name() == "aiosqlite":
            parsed = parsed.set(drivername=f"sqlite+{ONE_TRIP_DRIVER}")
        engine = create_async_engine(parsed, echo=echo, pool_size=SQLITE_POOL, max_overflow=16)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "before_cursor_execute", mark_inline)
        SqliteWriteGate().install(engine)
        return engine
    # Custom plans: asyncpg's prepared statements would otherwise get generic plans that ignore
    # the actual filter values (the queue's area filter then sorts tens of thousands of rows).
    server_settings = {"plan_cache_mode": "force_custom_plan", "jit": "off"}
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"server_settings": server_settings},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that never expire loaded objects on commit (handlers render after committing)."""
    return async_sessionmaker(engine, expire_on_commit=False)
