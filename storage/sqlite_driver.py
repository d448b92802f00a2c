"""SQLAlchemy's aiosqlite dialect with one trip to the connection's thread per statement.

aiosqlite runs each call on its connection's own thread; SQLAlchemy's adapter makes four such
calls per statement (open a cursor, execute, fetch, close) and one more for every rollback,
even of a connection that never began a transaction. Each trip wakes a thread, hands the GIL
over and wakes the event loop again: under load that, not SQLite, was most of the inbox
processor's database time. Here a statement is executed, fetched and closed in one trip, and a
rollback with no transaction open is skipped (pysqlite would do nothing with it either).

This is the project's one adapter on libraries' private names (SQLAlchemy's aiosqlite adapter
classes and their `_connection`, `_rows`, `_cursor_cls`, `_handle_exception`; aiosqlite's `_conn`
and `_execute`): neither library offers a public way to run a statement, fetch and close in one
trip. It is worth about a quarter of `tipline run`'s CPU per conversation update (bench/README.md).
pyproject.toml bounds both libraries above, and tests/storage/test_sqlite_driver.py fails, naming
the name, when an upgrade moves one; tests/test_private_names.py allows this module alone.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, TypeVar

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.sql.base import Executable
from sqlalchemy.util import EMPTY_DICT, await_

_Executable = TypeVar("_Executable", bound=Executable)

DRIVER = "tipline_aiosqlite"
# Execution option: run this statement on the event loop's thread, not the connection's thread.
INLINE = "sqlite_inline"


def inline(statement: _Executable) -> _Executable:
    """Mark a statement to run on the event loop's thread (SQLite; ignored elsewhere).

    Only for statements that touch a row or a few through an index (microseconds): the loop
    waits for them. What they save is the trip to the connection's thread, which under load
    cost more than the statement (a thread wake-up, the GIL handed over and back, the loop woken
    through its pipe; about a fifth of `tipline run`'s CPU in the intake benchmark). A write
    runs only once the process's write gate is held, so no writer of this process is in its
    way; another process's open write transaction (a CLI command) would be waited for here.
    Commits stay on the connection's thread (their fsync must not stop the loop).
    """
    return statement.execution_options(**{INLINE: True})


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None]:
    """Execute, fetch everything and close, on the connection's thread."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement costs one trip to the connection's thread, or none
    when marked `inline` (by `mark_inline`, from the statement's execution options)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "inline")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor (opening one is a trip of its own): each statement opens its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.inline = False

    @property
    def description(self) -> Any:
        """The columns of the last statement's result (None for one without rows)."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        """The rowid of the last inserted row."""
        return self._lastrowid  # type: ignore[return-value]

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        """Run one statement and keep all its rows."""
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        """Run one statement for each parameter set."""
        self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        aio = self._connection
        here, self.inline = self.inline, False
        try:
            if here:  # safe: nothing else uses the connection until this call returns
                description, rows, rowcount, lastrowid = _run(
                    aio._conn, operation, parameters, many
                )
                # AsyncConnection.execute insists that something was awaited (to catch sync
                # drivers): a coroutine that returns at once, without a turn of the loop.
                await_(_nothing())
            else:
                description, rows, rowcount, lastrowid = await_(
                    aio._execute(_run, aio._conn, operation, parameters, many)
                )
        except Exception as error:  # noqa: BLE001 - re-raised as the DBAPI error it is
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the statement's cursor closed on the thread."""

    def close(self) -> None:
        """Drop any rows not fetched."""
        self._rows.clear()


async def _nothing() -> None:
    return None


def mark_inline(
    _conn: Any, cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool
) -> None:
    """before_cursor_execute: a statement marked `inline` runs on the loop's thread."""
    if context is not None and context.execution_options.get(INLINE):
        cursor.inline = True


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection with one-trip cursors and free empty rollbacks."""

    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        """Roll back, unless no transaction is open (then there is nothing to undo)."""
        driver = self._connection._connection
        # A read of SQLite's autocommit flag: safe from this thread while no call is in flight,
        # which holds because SQLAlchemy awaits each call on a connection before the next.
        if driver is not None and driver.in_transaction:
            super().rollback()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI shim, handing out one-trip connections."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        """Connect as aiosqlite does, wrapped in a one-trip connection; usable from the loop's
        thread for inline statements (never at the same time as from its own)."""
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


class OneTripDialect(SQLiteDialect_aiosqlite):
    """`sqlite+tipline_aiosqlite://`: the aiosqlite dialect with one-trip statements."""

    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDbapi:
        """The one-trip DBAPI shim."""
        return OneTripDbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripDialect")
