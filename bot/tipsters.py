"""Recently active tipsters, so most updates find their tipster without a query."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached

from storage.models import Tipster

CACHE = "tipster_cache"
CHANGED = "tipsters_changed"
CACHE_SIZE = 10_000


class TipsterCache:
    """Id, pseudonym and language of recently active tipsters, by their id on the channel.

    Only those three, which nothing but the bot itself changes (`/language`, forgotten here at
    its commit). Other columns (counts, blocked) are left unloaded on the tipster handed out, so
    reading one loads it fresh rather than trusting a copy.
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._rows: OrderedDict[Hashable, tuple[int, str, str]] = OrderedDict()
        self._keys: dict[int, Hashable] = {}

    def attach(self, session: AsyncSession, key: Hashable) -> Tipster | None:
        """The tipster, made part of this session without a query; None when not known here."""
        session.info[CACHE] = self
        row = self._rows.get(key)
        if row is None:
            return None
        self._rows.move_to_end(key)
        tipster = Tipster(id=row[0], pseudonym=row[1], language=row[2])
        make_transient_to_detached(tipster)
        session.add(tipster)
        return tipster

    def remember(self, key: Hashable, tipster: Tipster) -> None:
        """Keep a committed tipster's id, pseudonym and language."""
        self._rows[key] = (tipster.id, tipster.pseudonym, tipster.language)
        self._rows.move_to_end(key)
        self._keys[tipster.id] = key
        while len(self._rows) > self.size:
            _, (tipster_id, _, _) = self._rows.popitem(last=False)
            self._keys.pop(tipster_id, None)

    def clear(self) -> None:
        """Drop everything (another process may have changed any tipster meanwhile)."""
        self._rows.clear()
        self._keys.clear()

    def forget(self, tipster_ids: set[int]) -> None:
        """Drop tipsters whose row changed (the next update reads them again)."""
        for tipster_id in tipster_ids:
            key = self._keys.pop(tipster_id, None)
            if key is not None:
                self._rows.pop(key, None)


def note_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Note the cached tipsters this flush changes (an update session's before_flush)."""
    if CACHE not in session.info:
        return
    changed = {obj.id for obj in session.dirty if isinstance(obj, Tipster)}
    if changed:
        session.info.setdefault(CHANGED, set()).update(changed)


def forget_changed(session: Session) -> None:
    """Drop the changed tipsters from the cache once committed (after_commit)."""
    changed = session.info.pop(CHANGED, None)
    if changed:
        session.info[CACHE].forget(changed)


def drop_changes(session: Session) -> None:
    """A rollback undid the changes (after_rollback)."""
    session.info.pop(CHANGED, None)
