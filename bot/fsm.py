"""Conversation state in the database, written in the same transaction as the update it follows."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import Table, bindparam, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from storage.models import FsmState
from storage.types import utcnow

# The inbox processor sets this to the update's session, so state changes commit with the update.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)

TABLE = cast(Table, FsmState.__table__)
SLOTS = "fsm_slots"
READ = select(TABLE.c.state, TABLE.c.data).where(TABLE.c.key == bindparam("key"))


@dataclass(slots=True)
class _Slot:
    """One chat's state and data as this session sees them."""

    state: str | None
    data: dict[str, Any]
    dirty: bool = False


def _upsert(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(TABLE)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[TABLE.c.key],
        set_={"state": new.state, "data": new.data, "updated_at": new.updated_at},
    )


def take_changes(session: Session | AsyncSession) -> list[dict[str, Any]]:
    """The states this session changed and has not written: the caller writes them now."""
    slots: dict[str, _Slot | None] = session.info.get(SLOTS) or {}
    now = utcnow()
    rows = []
    for key, slot in slots.items():
        if slot is not None and slot.dirty:
            rows.append({"key": key, "state": slot.state, "data": slot.data, "updated_at": now})
            slot.dirty = False
    return rows


async def write_states(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write states taken from several sessions in one statement (the last one per chat wins)."""
    unique = list({row["key"]: row for row in rows}.values())
    if unique:
        await session.execute(_upsert(session.get_bind().dialect.name), unique)


@event.listens_for(Session, "before_commit")
def _write_states(session: Session) -> None:
    """Write the states changed in this session as part of its commit (one statement)."""
    rows = take_changes(session)
    if rows:
        session.execute(_upsert(session.get_bind().dialect.name), rows)


@event.listens_for(Session, "after_rollback")
def _forget_states(session: Session) -> None:
    """A rollback drops this session's unwritten states (and what it read may be stale)."""
    session.info.pop(SLOTS, None)


class SqlStorage(BaseStorage):
    """aiogram FSM storage on the fsm_states table (SQLite or PostgreSQL).

    Each session reads a chat's row once (Core, no ORM objects) and writes the changed ones in
    one upsert when it commits. The processor does not autoflush, so nothing is written, and no
    SQLite write lock taken, before the update's final commit.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def _slot(self, session: AsyncSession, key: StorageKey) -> _Slot | None:
        name = self._keys.build(key)
        slots: dict[str, _Slot | None] = session.info.setdefault(SLOTS, {})
        if name not in slots:
            row = (await session.execute(READ, {"key": name})).first()
            slots[name] = _Slot(row.state, row.data or {}) if row is not None else None
        return slots[name]

    async def _write(self, key: StorageKey, **values: Any) -> None:
        session = current_session.get()
        if session is not None:
            await self._change(session, key, values)
            return
        async with self._sessions() as own:
            await self._change(own, key, values)
            await own.commit()

    async def _change(self, session: AsyncSession, key: StorageKey, values: dict[str, Any]) -> None:
        slot = await self._slot(session, key)
        if slot is None:
            slot = session.info[SLOTS][self._keys.build(key)] = _Slot(None, {})
        for name, value in values.items():
            setattr(slot, name, value)
        slot.dirty = True

    async def _read(self, key: StorageKey) -> _Slot | None:
        session = current_session.get()
        if session is not None:
            return await self._slot(session, key)
        async with self._sessions() as own:
            return await self._slot(own, key)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Set the conversation state."""
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        """The conversation state."""
        slot = await self._read(key)
        return slot.state if slot is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace the conversation data."""
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The conversation data (a copy)."""
        slot = await self._read(key)
        return dict(slot.data) if slot is not None else {}

    async def close(self) -> None:
        """Nothing to close: sessions come from the shared factory."""
