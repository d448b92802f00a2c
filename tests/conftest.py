"""Shared fixtures: every database test runs on SQLite and PostgreSQL, schema from migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Base
from tests.databases import fresh_database
from tests.s3server import S3Server, s3_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database URL, one per backend for the whole session."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's database."""
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


async def _wipe(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on an empty (wiped) database."""
    await _wipe(engine)
    yield create_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session on an empty database."""
    async with sessions() as session:
        yield session


@pytest.fixture
def tmp_media(tmp_path: Path) -> Path:
    """A private media directory."""
    media = tmp_path / "media"
    media.mkdir(mode=0o700)
    return media


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real local S3 server (moto server mode) for the whole session."""
    with s3_server() as server:
        yield server
