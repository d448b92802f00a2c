"""Durable admission of WhatsApp messages: committed before the webhook is answered.

Like the Telegram inbox (core/delivery/inbox.py): duplicates (Meta delivers at least once) are
ignored by message id, concurrent webhooks share one commit, and nothing is answered 200 before its
commit. The sender's number is stored only as a keyed hash and sealed in the vault.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.group_commit import SessionCommitter
from core.identity.vault import Vault
from core.whatsapp.replies import release
from core.whatsapp.webhook import STATUSES, Inbound, Parsed, Status
from storage.models import OutboxMessage, WhatsAppInbound
from storage.types import utcnow

INBOX = cast(Table, WhatsAppInbound.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
WINDOW = timedelta(hours=24)
SENDER_PURPOSE = "whatsapp-sender"


def sender_key(vault: Vault, phone: str) -> str:
    """The keyed hash a WhatsApp number is found by (the number itself is only sealed)."""
    return vault.keyed(SENDER_PURPOSE, phone)


def _row(vault: Vault, message: Inbound, now: datetime) -> dict[str, Any]:
    identity: dict[str, Any] = {"channel": "whatsapp", "external_id": message.phone}
    if message.name:
        identity["name"] = message.name
    if message.shared_contacts is not None:
        identity["shared_contacts"] = message.shared_contacts
    return {
        "message_id": message.message_id,
        "sender_key": sender_key(vault, message.phone),
        "sealed_sender": vault.seal(identity),
        "kind": message.kind,
        "payload": message.body,
        "status": "pending",
        "attempts": 0,
        "received_at": now,
        "next_attempt_at": now,
    }


async def admit(session: AsyncSession, vault: Vault, parsed: Parsed) -> int:
    """Insert the messages (known message ids ignored), make the messages held for their
    senders' reply due (core/whatsapp/replies.py), record the statuses, and commit; returns how
    many messages were new."""
    now = utcnow()
    rows = {m.message_id: _row(vault, m, now) for m in parsed.messages}  # one per id
    new = 0
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(INBOX).on_conflict_do_nothing(index_elements=["message_id"])
        result = await session.execute(stmt.returning(INBOX.c.id), list(rows.values()))
        new = len(result.all())
    if new:
        await release(session, vault, {m.phone for m in parsed.messages}, now=now)
    await record_statuses(session, parsed.statuses, now=now)
    await session.commit()
    return new


def _rank(column: Any) -> Any:
    """sent < delivered < read; failed ranks above all (a failure is final)."""
    whens = {name: i for i, name in enumerate(STATUSES, start=1)}
    return case(whens, value=column, else_=0)


async def record_statuses(
    session: AsyncSession, statuses: Sequence[Status], *, now: datetime
) -> None:
    """Record each status on its outbox row, never moving back (read, then a late delivered,
    stays read); statuses of messages we do not know are ignored. Never commits."""
    om = OUTBOX.c
    for status in statuses:
        stmt = (
            update(OUTBOX)
            .where(om.external_id == status.message_id)
            .where(_rank(om.delivery_status) < STATUSES.index(status.status) + 1)
            .values(
                delivery_status=status.status,
                delivery_error=status.error,
                delivery_status_at=now,
            )
        )
        await session.execute(stmt)


async def last_inbound(session: AsyncSession, key: str) -> datetime | None:
    """When this person (by sender key) last wrote to us: the 24-hour window runs from it."""
    stmt = select(func.max(INBOX.c.received_at)).where(INBOX.c.sender_key == key)
    return cast(datetime | None, await session.scalar(stmt))


def window_open(last: datetime | None, *, now: datetime) -> bool:
    """Whether free-form messages may go (Meta's customer-service window)."""
    return last is not None and now - last < WINDOW


class WhatsAppAdmission(SessionCommitter[Parsed]):
    """Group commit: concurrent webhooks share one transaction (one fsync per batch)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], vault: Vault, **batching: Any
    ) -> None:
        super().__init__(sessions, name="whatsapp-admission", **batching)
        self._vault = vault

    async def _write(self, session: AsyncSession, items: list[Parsed]) -> None:
        merged = Parsed()
        for one in items:
            merged.messages.extend(one.messages)
            merged.statuses.extend(one.statuses)
        await admit(session, self._vault, merged)
