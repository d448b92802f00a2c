"""A generic scan for identity at rest: every table and column (found by reflection, not from a
list of known columns), and the raw bytes of a SQLite database file and its WAL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Person:
    """A Telegram tipster as the tests make them: every detail distinctive enough to search."""

    user_id: int
    first_name: str
    last_name: str
    username: str
    phone: str

    def user(self) -> dict[str, Any]:
        """Their Telegram User object."""
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": "en",
        }

    def needles(self) -> list[str]:
        """What must not be readable at rest: each detail as text and as JSON writes it."""
        details = [str(self.user_id), self.first_name, self.last_name, self.username, self.phone]
        found = set()
        for detail in details:
            found.add(detail)
            found.add(json.dumps(detail)[1:-1])  # \\u escapes of non-ASCII names
            found.add(json.dumps(detail)[1:-1].upper().replace("\\U", "\\u"))
        return sorted(found)


def _texts(value: Any) -> Iterable[str]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value).decode("latin-1")]
    if isinstance(value, dict | list):
        return [json.dumps(value), json.dumps(value, ensure_ascii=False)]
    return [str(value)]


async def scan_tables(engine: AsyncEngine, needles: list[str]) -> list[str]:
    """Every (table.column, needle) where a needle appears in a value, in every table."""
    metadata = MetaData()
    async with engine.connect() as connection:
        await connection.run_sync(metadata.reflect)
        hits = []
        for table in metadata.sorted_tables:
            hits.extend(await _scan_table(connection, table, needles))
    return hits


async def _scan_table(connection: Any, table: Table, needles: list[str]) -> list[str]:
    hits = []
    for row in (await connection.execute(select(table))).mappings():
        for column, value in row.items():
            for text in _texts(value):
                hits.extend(f"{table.name}.{column}: {n}" for n in needles if n in text)
    return sorted(set(hits))


def scan_sqlite_files(database: Path, needles: list[str]) -> list[str]:
    """Needles found in the raw bytes of the database file, its WAL and its shared memory."""
    hits = []
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if not path.exists():
            continue
        data = path.read_bytes()
        for needle in needles:
            for encoded in {needle.encode(), needle.encode("utf-16-le")}:
                if encoded in data:
                    hits.append(f"{path.name}: {needle}")
    return sorted(set(hits))


def only_in_vault(hits: list[str]) -> list[str]:
    """The hits outside the vault's ciphertext (where a chance match would be harmless)."""
    return [hit for hit in hits if not hit.startswith("tipster_identities.ciphertext")]
