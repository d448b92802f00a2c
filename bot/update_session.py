"""The inbox processor's sessions: the only sessions that run the bot's commit bookkeeping.

An update's session writes its changed conversation states as part of its own commit (so a tip
and the step that follows it commit together), and tells the state and tipster caches what it
committed or rolled back. Those hooks are events on `UpdateSession`, a Session subclass that only
the processor's factory makes (`update_sessions`): SQLAlchemy fires events listened on a
subclass for its instances alone, so web requests, workers and CLI commands run none of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot import fsm, tipsters

WROTE = "inbox_wrote"


class UpdateSession(Session):
    """A session handling inbox updates (its events are listened below)."""


def update_sessions(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """A factory with the settings of `sessions` (engine, expiry) that makes UpdateSessions."""
    return async_sessionmaker(**{**sessions.kw, "sync_session_class": UpdateSession})


def wrote(session: AsyncSession) -> bool:
    """Whether the session executed a write or flushed since its last commit or rollback."""
    return bool(session.info.get(WROTE))


def _note_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


def _note_flush(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


def _forget_writes(session: Session) -> None:
    session.info.pop(WROTE, None)


event.listen(UpdateSession, "do_orm_execute", _note_write)
event.listen(UpdateSession, "before_flush", tipsters.note_changes)
event.listen(UpdateSession, "after_flush", _note_flush)
event.listen(UpdateSession, "before_commit", fsm.write_changed_states)
event.listen(UpdateSession, "after_commit", fsm.cache_written_states)
event.listen(UpdateSession, "after_commit", tipsters.forget_changed)
event.listen(UpdateSession, "after_commit", _forget_writes)
event.listen(UpdateSession, "after_rollback", fsm.forget_unwritten_states)
event.listen(UpdateSession, "after_rollback", tipsters.drop_changes)
event.listen(UpdateSession, "after_rollback", _forget_writes)
