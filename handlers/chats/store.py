"""A chat's conversation state in `fsm_states`, read and written in the session that processes
its message, so the state commits with the replies and the message's mark (or not at all)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FsmState
from storage.types import utcnow

TABLE = cast(Table, FsmState.__table__)


class StateRow:
    """The engine's Store over one `fsm_states` row (its key a keyed name, never a number)."""

    def __init__(self, session: AsyncSession, key: str) -> None:
        self.session = session
        self.key = key
        self._state: str | None = None
        self._data: dict[str, Any] = {}
        self._dirty = False

    async def load(self) -> str | None:
        """Read the row; the state name (None: no conversation going on)."""
        stmt = select(TABLE.c.state, TABLE.c.data).where(TABLE.c.key == self.key)
        row = (await self.session.execute(stmt)).first()
        if row is not None:
            self._state, self._data = row.state, dict(row.data or {})
        return self._state

    async def get_data(self) -> dict[str, Any]:
        """The chat's data (a copy)."""
        return dict(self._data)

    async def set_data(self, data: Mapping[str, Any]) -> None:
        """Replace the chat's data (written by `write`)."""
        self._data, self._dirty = dict(data), True

    async def set_state(self, state: str | None = None) -> None:
        """Set the chat's state name (written by `write`)."""
        self._state, self._dirty = state, True

    async def write(self) -> None:
        """Upsert the row in the session's transaction, if anything changed."""
        if not self._dirty:
            return
        postgres = self.session.get_bind().dialect.name == "postgresql"
        stmt = (pg_insert if postgres else sqlite_insert)(TABLE)
        values = {"key": self.key, "state": self._state, "data": self._data, "updated_at": utcnow()}
        new = stmt.excluded
        upsert = stmt.values(values).on_conflict_do_update(
            index_elements=[TABLE.c.key],
            set_={"state": new.state, "data": new.data, "updated_at": new.updated_at},
        )
        await self.session.execute(upsert)
        self._dirty = False
