"""Throwaway test databases on SQLite and PostgreSQL, built by running the migrations."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("TIPLINE_TEST_PG_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_dsn(PG_URL), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_available() -> bool:
    """Whether the test PostgreSQL server answers."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def require_postgres() -> None:
    """Skip locally, but fail under CI, when PostgreSQL is missing."""
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {PG_URL} (set TIPLINE_TEST_PG_URL)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """An empty database of the given backend; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'tipline-{uuid.uuid4().hex[:8]}.db'}"
        return
    require_postgres()
    name = f"tipline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def query_pg(url: str, sql: str) -> list[Any]:
    """Rows of one SQL query on a PostgreSQL database (end-to-end tests read outcomes so)."""

    async def go() -> list[Any]:
        connection = await asyncpg.connect(_dsn(url))
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    return asyncio.run(go())
