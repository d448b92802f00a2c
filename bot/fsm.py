"""Conversation state in the database, written in the same transaction as the update it follows."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmState

# The inbox processor sets this to the update's session, so state changes commit with the update.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


def _stale(row: FsmState) -> bool:
    """True when a rollback expired the row, or dropped it before it was ever written."""
    state = inspect(row)
    return state.transient or state.detached or state.expired


class SqlStorage(BaseStorage):
    """aiogram FSM storage on the fsm_states table (SQLite or PostgreSQL)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def _load(self, session: AsyncSession, name: str) -> FsmState | None:
        # Rows are kept per session (strongly: the identity map holds unmodified rows weakly, so
        # each read of an update went back to the database), and pending rows are not in the
        # identity map until flushed (the processor does not autoflush, to keep SQLite write
        # locks short). A missing row is remembered too; a rollback makes the cache stale.
        rows: dict[str, FsmState | None] = session.info.setdefault("fsm_rows", {})
        row = rows.get(name)
        if name not in rows or (row is not None and _stale(row)):
            rows[name] = row = await session.get(FsmState, name)
        return row

    async def _row(self, session: AsyncSession, key: StorageKey) -> FsmState:
        name = self._keys.build(key)
        row = await self._load(session, name)
        if row is None:
            row = FsmState(key=name, state=None, data={})
            session.add(row)
            session.info["fsm_rows"][name] = row
        return row

    async def _write(self, key: StorageKey, **values: Any) -> None:
        session = current_session.get()
        if session is not None:
            row = await self._row(session, key)
            for name, value in values.items():
                setattr(row, name, value)
            return
        async with self._sessions() as own:
            row = await self._row(own, key)
            for name, value in values.items():
                setattr(row, name, value)
            await own.commit()

    async def _read(self, key: StorageKey) -> FsmState | None:
        name = self._keys.build(key)
        session = current_session.get()
        if session is not None:
            return await self._load(session, name)
        async with self._sessions() as own:
            return await own.get(FsmState, name)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Set the conversation state."""
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        """The conversation state."""
        row = await self._read(key)
        return row.state if row is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace the conversation data."""
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The conversation data (a copy)."""
        row = await self._read(key)
        return dict(row.data) if row is not None else {}

    async def close(self) -> None:
        """Nothing to close: sessions come from the shared factory."""
