"""Conversation state in the database, written in the same transaction as the update it follows."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from core.identity.conversations import redis_name
from core.identity.vault import Vault
from storage.models import FsmState
from storage.sqlite_driver import inline
from storage.types import utcnow

# The inbox processor sets this to the update's session (a bot.update_session.UpdateSession,
# whose commit writes the changed states), so state changes commit with the update.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)

TABLE = cast(Table, FsmState.__table__)
SLOTS = "fsm_slots"
CACHE = "fsm_cache"
WRITTEN = "fsm_written"
CACHE_SIZE = 10_000
READ = inline(select(TABLE.c.state, TABLE.c.data).where(TABLE.c.key == bindparam("key")))


class KeyedStateKeys(KeyBuilder):
    """Conversation-state keys that are keyed hashes of the chat and user ids.

    aiogram's DefaultKeyBuilder writes `fsm:<chat id>:<user id>:default`: a curious reader of
    `fsm_states` (or of Redis) would hold every tipster's Telegram id. The HMAC under the
    vault's lookup key cannot be recomputed without the key, and erasure finds the row by
    building the same key (Vault.conversation_key; in Redis core.identity.conversations.redis_name).
    """

    def __init__(self, vault: Vault, *, prefix: str = "") -> None:
        self.vault = vault
        self.prefix = prefix  # a Redis shared with other deployments (TIPLINE_REDIS_PREFIX)
        # A chat's key is built several times per update: each HMAC once, while it is recent.
        self._keyed = lru_cache(maxsize=CACHE_SIZE)(self._conversation_key)

    def _conversation_key(self, chat_id: int, user_id: int, destiny: str) -> str:
        return self.vault.conversation_key(chat_id=chat_id, user_id=user_id, destiny=destiny)

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        """The key of a chat's state (with its part for Redis: state, data, lock)."""
        destiny = key.destiny
        if key.thread_id is not None or key.business_connection_id is not None:
            destiny = f"{destiny}:{key.thread_id}:{key.business_connection_id}"
        return redis_name(self.prefix, self._keyed(key.chat_id, key.user_id, destiny), part)


@dataclass(slots=True)
class _Slot:
    """One chat's state and data as this session sees them."""

    state: str | None
    data: dict[str, Any]
    dirty: bool = False


class StateCache:
    """The committed state of recently active chats, so most updates read none from the database.

    Sound because one process handles a database's updates (the inbox processor's leader lock)
    and every state it writes passes through here after its commit. Data is kept as JSON text, so
    a handler that changes what it read cannot change the cache.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._rows: OrderedDict[str, tuple[str | None, str] | None] = OrderedDict()

    def knows(self, key: str) -> bool:
        """Whether the chat's committed state is here."""
        return key in self._rows

    def get(self, key: str) -> _Slot | None:
        """A fresh slot of the chat's committed state (None: no row); call when it `knows`."""
        self._rows.move_to_end(key)
        row = self._rows[key]
        return _Slot(row[0], json.loads(row[1])) if row is not None else None

    def put(self, key: str, state: str | None, data: dict[str, Any] | None) -> None:
        """Remember a committed state (None for both: the chat has no row)."""
        absent = state is None and data is None
        self._rows[key] = None if absent else (state, json.dumps(data or {}))
        self._rows.move_to_end(key)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop a chat's entry (the next read goes to the database)."""
        self._rows.pop(key, None)

    def clear(self) -> None:
        """Drop everything (another process may have changed any state meanwhile)."""
        self._rows.clear()


def _upsert(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(TABLE)
    new = stmt.excluded
    return inline(
        stmt.on_conflict_do_update(
            index_elements=[TABLE.c.key],
            set_={"state": new.state, "data": new.data, "updated_at": new.updated_at},
        )
    )


def take_changes(session: Session | AsyncSession) -> list[dict[str, Any]]:
    """The states this session changed and has not written: the caller writes them now."""
    slots: dict[str, _Slot | None] = session.info.get(SLOTS) or {}
    cache = session.info.get(CACHE)
    now = utcnow()
    rows = []
    for key, slot in slots.items():
        if slot is not None and slot.dirty:
            row = {"key": key, "state": slot.state, "data": slot.data, "updated_at": now}
            rows.append(row | {CACHE: cache})
            slot.dirty = False
    return rows


def _params(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The upsert's parameters (the last change per chat wins); the cache learns them at commit."""
    written: list[dict[str, Any]] = session.info.setdefault(WRITTEN, [])
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        params = dict(row)
        cache = params.pop(CACHE, None)
        unique[params["key"]] = params
        if cache is not None:
            written.append(row)
    return list(unique.values())


async def write_states(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write states taken from several sessions in one statement (the last one per chat wins)."""
    params = _params(session.sync_session, rows)
    if params:
        await session.execute(_upsert(session.get_bind().dialect.name), params)


def write_changed_states(session: Session) -> None:
    """Write the states changed in this session as part of its commit (one statement): an
    update session's before_commit (bot.update_session)."""
    params = _params(session, take_changes(session))
    if params:
        session.execute(_upsert(session.get_bind().dialect.name), params)


def cache_written_states(session: Session) -> None:
    """What is committed is what the next update of those chats will read (after a commit)."""
    for row in session.info.pop(WRITTEN, ()):
        row[CACHE].put(row["key"], row["state"], row["data"])


def forget_unwritten_states(session: Session) -> None:
    """A rollback drops this session's unwritten states (and what it read may be stale)."""
    session.info.pop(SLOTS, None)
    session.info.pop(WRITTEN, None)


class SqlStorage(BaseStorage):
    """aiogram FSM storage on the fsm_states table (SQLite or PostgreSQL).

    Each session reads a chat's row once (Core, no ORM objects; from the StateCache when it
    holds the chat) and writes the changed ones in one upsert when it commits. The processor
    does not autoflush, so nothing is written, and no SQLite write lock taken, before the
    update's final commit.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        keys: KeyBuilder,
        cache: StateCache | None = None,
    ) -> None:
        self._sessions = sessions
        self.keys = keys
        self.cache = cache if cache is not None else StateCache()

    async def _slot(self, session: AsyncSession, key: StorageKey) -> _Slot | None:
        name = self.keys.build(key)
        session.info[CACHE] = self.cache
        slots: dict[str, _Slot | None] = session.info.setdefault(SLOTS, {})
        if name in slots:
            return slots[name]
        if self.cache.knows(name):
            slots[name] = self.cache.get(name)
            return slots[name]
        row = (await session.execute(READ, {"key": name})).first()
        if row is None:
            self.cache.put(name, None, None)
            slots[name] = None
        else:
            self.cache.put(name, row.state, row.data)
            slots[name] = _Slot(row.state, row.data or {})
        return slots[name]

    async def _write(self, key: StorageKey, **values: Any) -> None:
        session = current_session.get()
        if session is not None:
            await self._change(session, key, values)
            return
        async with self._sessions() as own:
            await self._change(own, key, values)
            await write_states(own, take_changes(own))
            await own.commit()
            cache_written_states(own.sync_session)

    async def _change(self, session: AsyncSession, key: StorageKey, values: dict[str, Any]) -> None:
        slot = await self._slot(session, key)
        if slot is None:
            slot = session.info[SLOTS][self.keys.build(key)] = _Slot(None, {})
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
