"""Health of the running system, for /healthz and `tipline db check`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """What the database says about itself."""

    backend: str
    revision: str | None
    head: str

    @property
    def at_head(self) -> bool:
        """Whether the schema is at the newest migration."""
        return self.revision == self.head


async def database_health(engine: AsyncEngine, *, head: str) -> DatabaseHealth:
    """Ask the database for its migration revision (raises if it cannot be reached)."""
    async with engine.connect() as connection:
        has_table = await connection.run_sync(
            lambda sync: sync.dialect.has_table(sync, "alembic_version")
        )
        revision = None
        if has_table:
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    return DatabaseHealth(backend=engine.dialect.name, revision=revision, head=head)
