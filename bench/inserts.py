"""Committed tip inserts per second through the repository layer vs raw driver inserts."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import asyncpg
import common  # noqa: F401 - puts the project on sys.path
from common import peak_rss_mib

from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Tip
from storage.refs import new_ref
from storage.repositories import TipRepository
from storage.types import utcnow
from tests.databases import fresh_database

N = 2000
RAW_SQL = (
    "INSERT INTO tips (ref, channel, status, text, contact_allowed, language, details, "
    "created_at, updated_at) VALUES ({})"
)


async def repository_inserts(url: str) -> float:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    start = time.perf_counter()
    for i in range(N):
        async with sessions() as session:
            await TipRepository(session).add(Tip(channel="web", text=f"sighting {i}"))
            await session.commit()
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return N / elapsed


async def raw_sqlite(path: str) -> float:
    import aiosqlite

    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        sql = RAW_SQL.format(",".join("?" * 9))
        start = time.perf_counter()
        for i in range(N):
            now = utcnow().replace(tzinfo=None)
            row = (new_ref(), "web", "received", f"raw {i}", False, "en", "{}", now, now)
            await db.execute(sql, row)
            await db.commit()
        return N / (time.perf_counter() - start)


async def raw_postgres(url: str) -> float:
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(dsn)
    sql = RAW_SQL.format(",".join(f"${i}" for i in range(1, 10)))
    start = time.perf_counter()
    for i in range(N):
        now = utcnow()
        await conn.execute(
            sql, new_ref(), "web", "received", f"raw {i}", False, "en", "{}", now, now
        )
    rate = N / (time.perf_counter() - start)
    await conn.close()
    return rate


def run_backend(backend: str, tmp: Path) -> None:
    with fresh_database(backend, tmp) as url:
        migrate.upgrade(url)
        if backend == "sqlite":
            path = url.split("///", 1)[1]
            sqlite3.connect(path).close()
            baseline = asyncio.run(raw_sqlite(path))
        else:
            baseline = asyncio.run(raw_postgres(url))
        ours = asyncio.run(repository_inserts(url))
    print(
        f"{backend:10s} raw driver {baseline:8.0f}/s   repository {ours:8.0f}/s   "
        f"ratio {ours / baseline:.2f}"
    )


def main() -> None:
    print(f"committed tip inserts, {N} each, one transaction per insert")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            run_backend(backend, Path(tmp))
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
