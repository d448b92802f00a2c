"""Migration 0013 on a database with rows from before it: police recipients become pending (one
person alone may have added them) and stored webhook failure reasons lose the receiver's words."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import migrate
from storage.db import create_engine
from tests.conftest import BACKENDS
from tests.databases import fresh_database

FILLER = {"INTEGER": 0, "BOOLEAN": False, "JSON": {}, "FLOAT": 0.0, "DATE": "2026-11-01"}


async def _insert(url: str, table: str, values: dict) -> None:
    """A row as the old schema takes it: every other required column gets a plain value."""
    import json

    import sqlalchemy as sa

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            columns = await connection.run_sync(lambda sync: sa.inspect(sync).get_columns(table))
            row = dict(values)
            for column in columns:
                if column["name"] in row or column["nullable"] or column.get("autoincrement"):
                    continue
                if column["default"] is not None or column["name"] == "id":
                    continue
                kind = type(column["type"]).__name__.upper()
                value = next((v for k, v in FILLER.items() if k in kind), "x")
                if "TIME" in kind:
                    value = datetime(2026, 11, 1, tzinfo=UTC)
                row[column["name"]] = json.dumps(value) if kind == "JSON" else value
            table_ = sa.table(table, *(sa.column(name) for name in row))
            await connection.execute(sa.insert(table_).values(row))
    finally:
        await engine.dispose()


async def _run(url: str, statements: list[str]) -> list[list[tuple]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            found = []
            for statement in statements:
                result = await connection.execute(text(statement))
                found.append(list(result.all()) if result.returns_rows else [])
            return found
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_0013_leaves_old_recipients_pending_and_drops_receivers_words(backend, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0009")
        when = datetime(2026, 11, 1, tzinfo=UTC)
        for table, values in [
            ("staff_users", {"id": 1, "email": "s@example.org", "role": "senior_moderator"}),
            ("cases", {"id": 1, "ref": "H4MZ22QC", "full_name": "Li Na"}),
            (
                "police_recipients",
                {
                    "id": 1,
                    "case_id": 1,
                    "kind": "webhook",
                    "address": "https://p.example.org/h",
                    "created_by": 1,
                },
            ),
            (
                "outbox_messages",
                {
                    "channel": "webhook",
                    "recipient": "police:1",
                    "status": "dead",
                    "last_error": "gave up: HTTP 403 go away, internal token abc123",
                    "created_at": when,
                },
            ),
        ]:
            asyncio.run(_insert(url, table, {**values}))
        migrate.upgrade(url)
        [recipients, errors] = asyncio.run(
            _run(
                url,
                [
                    "SELECT approved_by, secret_generation FROM police_recipients",
                    "SELECT last_error FROM outbox_messages",
                ],
            )
        )
    assert recipients == [(None, 1)]
    assert errors == [("gave up: HTTP 403 (answer not kept)",)]
