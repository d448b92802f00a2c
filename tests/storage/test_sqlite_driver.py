"""The one-trip SQLite driver: aiosqlite's results with fewer trips to the connection thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from threading import get_ident
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.sqlite_driver import inline
from tests.private_names import library_names


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the calls sent to aiosqlite connection threads."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_engine_for_an_aiosqlite_url_uses_the_one_trip_driver(engine):
    assert engine.dialect.driver == "tipline_aiosqlite"


async def test_a_select_costs_one_trip_and_returns_every_row(engine, trips):
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')"))
    async with engine.connect() as connection:
        trips.clear()
        rows = (await connection.execute(text("SELECT v FROM t ORDER BY v"))).all()
        assert [r.v for r in rows] == ["a", "b", "c"]
        assert len(trips) == 1


async def test_a_connection_that_only_read_returns_to_the_pool_without_a_rollback_trip(
    engine, trips
):
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        trips.clear()
    assert trips == []


async def test_rollback_after_a_write_undoes_it(engine):
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('gone')"))
        await connection.rollback()
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_insert_reports_rowcount_lastrowid_and_returning(engine):
    async with engine.begin() as connection:
        first = await connection.execute(text("INSERT INTO t (v) VALUES ('x')"))
        assert (first.rowcount, first.lastrowid) == (1, 1)
        many = await connection.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "y"}, {"v": "z"}]
        )
        assert many.rowcount == 2
        returned = await connection.execute(text("INSERT INTO t (v) VALUES ('w') RETURNING id"))
        assert returned.scalar() == 4
        changed = await connection.execute(text("UPDATE t SET v = v || '!' WHERE id > 2"))
        assert changed.rowcount == 2


async def test_database_errors_surface_as_sqlalchemy_errors(engine):
    async with engine.connect() as connection:
        with pytest.raises(OperationalError, match="no such table"):
            await connection.execute(text("SELECT * FROM missing"))
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('same')"))
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO t (v) VALUES ('same')"))


async def test_an_inline_statement_runs_on_the_loops_thread_without_a_trip(engine, trips):
    threads: list[int] = []
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.create_function("here", 0, lambda: threads.append(get_ident()) or 1)
        trips.clear()
        assert await connection.scalar(inline(select(func.here()))) == 1
        assert trips == []  # no call went to the connection's thread
        assert await connection.scalar(select(func.here())) == 1
        assert trips == ["_run"]
    assert threads[0] == get_ident()  # the event loop's thread
    assert threads[1] != get_ident()  # aiosqlite's thread for the connection


async def test_inline_writes_and_their_errors_behave_as_on_the_connections_thread(engine):
    insert = inline(text("INSERT INTO t (v) VALUES (:v) RETURNING id"))
    async with engine.begin() as connection:
        assert await connection.scalar(insert, {"v": "a"}) == 1
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError):
            await connection.execute(insert, {"v": "a"})
        await connection.rollback()
        assert await connection.scalar(inline(text("SELECT count(*) FROM t"))) == 1
        await connection.execute(insert, {"v": "b"})
        await connection.rollback()  # undone like any other write
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM t")) == 1


# What storage/sqlite_driver.py reaches for inside SQLAlchemy's aiosqlite adapter and aiosqlite:
# it is the one project module allowed to (tests/test_private_names.py), and pyproject.toml bounds
# both libraries above. An upgrade that moves any of these fails here, naming what moved.
INTERNALS = {
    AsyncAdapt_aiosqlite_cursor: {
        "_adapt_connection",
        "_connection",
        "_cursor",
        "_soft_closed_memoized",
        "_rows",
        "_async_soft_close",
    },
    AsyncAdapt_aiosqlite_connection: {"_cursor_cls", "_connection", "_handle_exception"},
    aiosqlite.Connection: {"_conn", "_connection", "_execute"},
}


@pytest.mark.parametrize("library_class", list(INTERNALS), ids=lambda cls: cls.__name__)
def test_the_library_internals_the_driver_uses_are_still_there(library_class):
    assert INTERNALS[library_class] - library_names(library_class) == set()
