"""Repositories: a fixed vocabulary (get, get_by_ref, list_*, add). They never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage.models import (
    AuditEvent,
    Case,
    InboxUpdate,
    StaffUser,
    Tip,
    TipPhoto,
    Tipster,
    TipsterIdentity,
)
from storage.sqlite_driver import inline
from storage.types import utcnow


class TipRepository:
    """Tips and their attached files."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, tip: Tip) -> Tip:
        """Stage a new tip and give it its id."""
        self.session.add(tip)
        await self.session.flush()
        return tip

    async def get(self, tip_id: int) -> Tip | None:
        """A tip by internal id."""
        return await self.session.get(Tip, tip_id)

    async def get_by_ref(self, ref: str) -> Tip | None:
        """A tip by its public reference."""
        return await self.session.scalar(select(Tip).where(Tip.ref == ref))

    async def list_by_tipster(self, *, tipster_id: int, limit: int = 20) -> Sequence[Tip]:
        """A tipster's own tips, newest first."""
        stmt = (
            select(Tip)
            .where(Tip.tipster_id == tipster_id)
            .order_by(Tip.created_at.desc())
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def add_photo(self, photo: TipPhoto) -> TipPhoto:
        """Attach a file to a tip (quarantined until processed)."""
        self.session.add(photo)
        await self.session.flush()
        return photo

    async def list_photos(self, *, tip_id: int) -> Sequence[TipPhoto]:
        """The files of a tip in arrival order."""
        stmt = select(TipPhoto).where(TipPhoto.tip_id == tip_id).order_by(TipPhoto.id)
        return (await self.session.scalars(stmt)).all()

    async def claim_quarantined_photo(self, *, after: int = 0) -> TipPhoto | None:
        """The oldest waiting file after id `after`, locked until this transaction ends.

        On PostgreSQL a row another worker holds is skipped (FOR UPDATE SKIP LOCKED): several
        photo workers never take the same file, and a worker that dies drops its connection,
        which frees the row. SQLite has one process and ignores the clause."""
        stmt = (
            select(TipPhoto)
            .where(TipPhoto.status == "quarantined", TipPhoto.id > after)
            .order_by(TipPhoto.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(stmt)).first()


# Built once: constructing this ORM statement cost more than running it (every bot update).
_TIPSTER_BY_LOOKUP = inline(
    select(Tipster)
    .join(TipsterIdentity, TipsterIdentity.tipster_id == Tipster.id)
    .where(TipsterIdentity.lookup_hash == bindparam("lookup"))
)


_TIPSTERS = cast(Table, Tipster.__table__)
_INSERT_TIPSTER = inline(insert(_TIPSTERS).returning(_TIPSTERS.c.id))
_INSERT_IDENTITY = inline(insert(cast(Table, TipsterIdentity.__table__)))


class TipsterRepository:
    """Pseudonymous tipsters and the identity vault rows that point to them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, tipster: Tipster) -> Tipster:
        """Stage a new tipster."""
        self.session.add(tipster)
        await self.session.flush()
        return tipster

    async def get(self, tipster_id: int) -> Tipster | None:
        """A tipster by id."""
        return await self.session.get(Tipster, tipster_id)

    async def get_by_lookup_hash(self, lookup_hash: str) -> Tipster | None:
        """The tipster whose vault entry has this keyed hash."""
        return await self.session.scalar(_TIPSTER_BY_LOOKUP, {"lookup": lookup_hash})

    async def get_identity(self, *, tipster_id: int) -> TipsterIdentity | None:
        """The vault row of a tipster (still encrypted)."""
        stmt = select(TipsterIdentity).where(TipsterIdentity.tipster_id == tipster_id)
        return await self.session.scalar(stmt)

    async def create(
        self,
        *,
        pseudonym: str,
        language: str,
        lookup_hash: str,
        ciphertext: bytes,
        channel: str = "telegram",
    ) -> Tipster:
        """Stage a new tipster and its vault row; the tipster comes back part of the session.

        Two Core inserts: a new tipster arrives with most first conversations, and the ORM's
        flushes of the two objects cost several times the inserts.
        """
        now = utcnow()
        columns: dict[str, Any] = {
            "pseudonym": pseudonym,
            "language": language,
            "channel": channel,
            "promising_count": 0,
            "spam_count": 0,
            "blocked": False,
            "created_at": now,
        }
        tipster = Tipster(id=await self.session.scalar(_INSERT_TIPSTER, columns), **columns)
        await self.session.execute(
            _INSERT_IDENTITY,
            {
                "tipster_id": tipster.id,
                "lookup_hash": lookup_hash,
                "ciphertext": ciphertext,
                "created_at": now,
                "updated_at": now,
            },
        )
        make_transient_to_detached(tipster)
        self.session.add(tipster)
        return tipster

    async def add_identity(self, identity: TipsterIdentity) -> TipsterIdentity:
        """Stage a vault row."""
        self.session.add(identity)
        await self.session.flush()
        return identity


class CaseRepository:
    """Missing-person cases."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, case: Case) -> Case:
        """Stage a new case."""
        self.session.add(case)
        await self.session.flush()
        return case

    async def get(self, case_id: int) -> Case | None:
        """A case by id."""
        return await self.session.get(Case, case_id)

    async def get_by_ref(self, ref: str) -> Case | None:
        """A case by its public code."""
        return await self.session.scalar(select(Case).where(Case.ref == ref))


_INBOX = cast(Table, InboxUpdate.__table__)
# Built once: what admission reads back so the processor can take its updates from memory.
# Oldest first and capped: a chat whose rows are cut off is left to the processor's own read.
PENDING_READ_LIMIT = 1000
_PENDING_IN_CHATS = inline(
    select(_INBOX.c.id, _INBOX.c.chat_id, _INBOX.c.attempts)
    .where(_INBOX.c.status == "pending", _INBOX.c.chat_id.in_(bindparam("chats", expanding=True)))
    .order_by(_INBOX.c.id)
    .limit(PENDING_READ_LIMIT)
)


class InboxRepository:
    """Raw Telegram updates awaiting processing."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(
        self,
        updates: Sequence[tuple[int, int | None, dict[str, Any]]],
        *,
        acknowledged: Collection[int] = (),
    ) -> int:
        """Insert (update_id, chat_id, payload) rows, ignoring update_ids already admitted;
        returns how many were new.

        `acknowledged`: update_ids whose callback query the webhook answered in its response.
        """
        return len(await self.insert_new(updates, acknowledged=acknowledged))

    async def insert_new(
        self,
        updates: Sequence[tuple[int, int | None, dict[str, Any]]],
        *,
        acknowledged: Collection[int] = (),
    ) -> dict[int, int]:
        """Like `add_many`; returns the inbox id of each update inserted, by update_id."""
        if not updates:
            return {}
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "update_id": u,
                "chat_id": c,
                "payload": p,
                "acknowledged": u in acknowledged,
                "status": "pending",
                "attempts": 0,
                "received_at": now,
                "next_attempt_at": now,
            }
            for u, c, p in updates
        ]
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # On the table, not the entity: a Core insert skips the ORM's bulk-insert bookkeeping.
        table = _INBOX
        stmt = insert(table).on_conflict_do_nothing(index_elements=["update_id"])
        returning = inline(stmt.returning(table.c.update_id, table.c.id))
        result = await self.session.execute(returning, rows)
        return {update_id: inbox_id for update_id, inbox_id in result}

    async def pending_in_chats(self, chats: Collection[int]) -> list[tuple[int, int, int]]:
        """(id, chat_id, attempts) of the pending updates of these chats, oldest first (at most
        PENDING_READ_LIMIT: all of them whose id is at most the last one returned)."""
        if not chats:
            return []
        result = await self.session.execute(_PENDING_IN_CHATS, {"chats": list(chats)})
        return [(inbox_id, chat, attempts) for inbox_id, chat, attempts in result]

    async def list_dead(self, *, limit: int = 100) -> Sequence[InboxUpdate]:
        """Updates parked after repeated failures, for admins."""
        stmt = (
            select(InboxUpdate)
            .where(InboxUpdate.status == "dead")
            .order_by(InboxUpdate.update_id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def max_update_id(self) -> int | None:
        """The highest update_id admitted so far (where polling resumes)."""
        return await self.session.scalar(select(func.max(InboxUpdate.update_id)))


class StaffRepository:
    """Staff accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: StaffUser) -> StaffUser:
        """Stage a new staff account."""
        self.session.add(user)
        await self.session.flush()
        return user

    async def get_by_email(self, email: str) -> StaffUser | None:
        """A staff account by e-mail (case-insensitive)."""
        stmt = select(StaffUser).where(func.lower(StaffUser.email) == email.lower())
        return await self.session.scalar(stmt)

    async def count(self) -> int:
        """How many staff accounts exist."""
        return int(await self.session.scalar(select(func.count(StaffUser.id))) or 0)


class AuditRepository:
    """The append-only audit trail: there is no update or delete here on purpose."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: AuditEvent) -> AuditEvent:
        """Append an event."""
        self.session.add(event)
        await self.session.flush()
        return event
