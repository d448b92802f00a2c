"""The message a template stood in for, held until the person replies.

Outside the 24-hour window only a template may go, and ours end with "reply to this message".
The sender keeps the free-form message it could not send (the full lead, its buttons) as an
outbox row of its own, `<key>:reply`, scheduled HOLD later: a row that was never tried is not a
head before it is due, so it holds back nothing. When the person writes, admission makes their
held rows due at once, and the relay sends them inside the window just opened. If they never
write, the row falls due after HOLD, still outside the window and without a template, and is
parked as dead with the reason. A message that never had a template (a photo sent ahead of a
list) is held the same way when the window is closed, its own row parked as dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.outbox import KEY_LIMIT, PENDING, enqueue, tipster_recipient
from core.identity.vault import Vault
from core.whatsapp.payloads import message
from storage.models import OutboxMessage, TipsterIdentity

HOLD = timedelta(days=7)
REPLY = ":reply"
CHANNEL = "whatsapp"


async def hold(
    session: AsyncSession, *, key: str, recipient: str, free: dict[str, Any], now: datetime
) -> bool:
    """Keep `free` for when the person replies (never commits); False when already held, when
    it is itself a held message (held once, never again), or the key would be too long."""
    held_key = key + REPLY
    if key.endswith(REPLY) or len(held_key) > KEY_LIMIT:
        return False
    payload = message(free)
    if not await enqueue(
        session, channel=CHANNEL, recipient=recipient, payload=payload, key=held_key
    ):
        return False
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.idempotency_key == held_key)
        .values(next_attempt_at=now + HOLD)
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt)
    return True


async def release(
    session: AsyncSession, vault: Vault, phones: Iterable[str], *, now: datetime
) -> None:
    """These numbers wrote: their held messages are due now (never commits)."""
    lookups = {vault.lookup_hash(CHANNEL, phone) for phone in phones}
    if not lookups:
        return
    found = select(TipsterIdentity.tipster_id).where(TipsterIdentity.lookup_hash.in_(lookups))
    recipients = [tipster_recipient(t) for t in (await session.scalars(found)).all()]
    if not recipients:
        return
    om = OutboxMessage
    stmt = (
        update(om)
        .where(
            om.status == PENDING,
            om.next_attempt_at > now,
            om.channel == CHANNEL,
            om.recipient.in_(recipients),
            om.attempts == 0,
            om.idempotency_key.like(f"%{REPLY}"),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(stmt)
