"""Durable admission of text messages: committed before the SMS webhook is answered.

Like WhatsApp's (core/whatsapp/admission.py): the provider's redeliveries are ignored by
MessageSid, concurrent webhooks share one commit, and nothing is answered 200 before its
commit. The sender's number is stored only as a keyed hash and sealed in the vault. STOP and
START take effect in the same commit (an opt-out is durable before the provider hears 200);
keywords, and photos sent without text, are answered by the webhook itself and stored done,
so no flow ever reads them as an answer.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.group_commit import SessionCommitter
from core.identity.vault import Vault
from core.sms.menus import remember
from core.sms.webhook import Inbound
from core.whatsapp.admission import record_statuses
from core.whatsapp.webhook import Status
from storage.models import SmsInbound, SmsOptOut
from storage.types import utcnow

INBOX = cast(Table, SmsInbound.__table__)
OPT_OUTS = cast(Table, SmsOptOut.__table__)
SENDER_PURPOSE = "sms-sender"


def sender_key(vault: Vault, phone: str) -> str:
    """The keyed hash an SMS number is found by (the number itself is only sealed)."""
    return vault.keyed(SENDER_PURPOSE, phone)


def _kind(message: Inbound) -> tuple[str, dict[str, Any]]:
    """What the message is, and its payload: a keyword, photos alone (both answered by the
    webhook, so stored done), or text for the flow."""
    if message.keyword:
        return "keyword", {"keyword": message.keyword}
    if message.media and not message.body.strip():
        return "media", {"media": message.media}
    payload: dict[str, Any] = {"body": message.body}
    if message.media:
        payload["media"] = message.media
    return "text", payload


def _row(vault: Vault, message: Inbound) -> dict[str, Any]:
    now = utcnow()
    kind, payload = _kind(message)
    done = kind != "text"
    return {
        "message_sid": message.message_sid,
        "sender_key": sender_key(vault, message.phone),
        # Only a text the flow will answer needs the number (sealed); the webhook answered
        # the others already.
        "sealed_sender": b""
        if done
        else vault.seal({"channel": "sms", "external_id": message.phone}),
        "kind": kind,
        "payload": payload,
        "status": "done" if done else "pending",
        "attempts": 0,
        "received_at": now,
        "next_attempt_at": now,
        "processed_at": now if done else None,
    }


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def admit(session: AsyncSession, vault: Vault, messages: list[Inbound]) -> int:
    """Insert the messages (known MessageSids ignored), apply the new STOPs and STARTs in
    order, and commit; returns how many messages were new."""
    rows = {m.message_sid: _row(vault, m) for m in messages}  # one per sid
    if not rows:
        return 0
    stmt = _insert(session)(INBOX).on_conflict_do_nothing(index_elements=["message_sid"])
    result = await session.execute(stmt.returning(INBOX.c.message_sid), list(rows.values()))
    new = {sid for (sid,) in result.all()}
    for message in messages:
        if message.message_sid in new and message.keyword in ("stop", "start"):
            key = rows[message.message_sid]["sender_key"]
            await set_opted_out(session, key, opted_out=message.keyword == "stop")
    await session.commit()
    return len(new)


async def set_opted_out(session: AsyncSession, key: str, *, opted_out: bool) -> None:
    """Record STOP (or the provider's word that the number unsubscribed) or START; never
    commits."""
    if not opted_out:
        await session.execute(delete(OPT_OUTS).where(OPT_OUTS.c.sender_key == key))
        return
    stmt = _insert(session)(OPT_OUTS).values(sender_key=key, opted_out_at=utcnow())
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["sender_key"]))


async def opted_out(session: AsyncSession, key: str) -> bool:
    """Whether this number (by sender key) said STOP and not START since."""
    stmt = select(OPT_OUTS.c.sender_key).where(OPT_OUTS.c.sender_key == key)
    return await session.scalar(stmt) is not None


async def forget_sender(session: AsyncSession, key: str, tipster_id: int) -> int:
    """Erasure: the person's admitted messages and their last menu go (their opt-out stays);
    returns how many messages. Never commits."""
    result = await session.execute(delete(INBOX).where(INBOX.c.sender_key == key))
    await remember(session, tipster_id, {})
    return int(getattr(result, "rowcount", 0) or 0)


class SmsAdmission(SessionCommitter[Inbound]):
    """Group commit: concurrent webhooks share one transaction (one fsync per batch)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], vault: Vault, **batching: Any
    ) -> None:
        super().__init__(sessions, name="sms-admission", **batching)
        self._vault = vault

    async def record(self, status: Status, *, unsubscribed: str | None = None) -> None:
        """Record a delivery status on its outbox row, and the opt-out of the `unsubscribed`
        number it reports, in one commit (statuses are few: no batch)."""
        async with self._sessions() as session:
            await record_statuses(session, [status], now=utcnow())
            if unsubscribed is not None:
                key = sender_key(self._vault, unsubscribed)
                await set_opted_out(session, key, opted_out=True)
            await session.commit()

    async def _write(self, session: AsyncSession, items: list[Inbound]) -> None:
        await admit(session, self._vault, items)
