"""The transactional outbox: outbound messages are rows written in the caller's transaction.

A use case calls `enqueue` before it commits; the relay (workers/relay.py) sends the row later,
once, with retries and rate limits. Recipients are opaque strings resolved only at send time, so
the table never holds a tipster's chat id in plain text:

- `tipster:<id>`: a tipster; the sender opens their sealed identity in the vault.
- `chat:<id>`: a chat whose id is not secret (a staff group, a family chat).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from storage.models import OutboxMessage
from storage.types import utcnow

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_LIMIT, KEY_LIMIT = 4096, 1024, 64, 100
_RECIPIENT = re.compile(r"(tipster):([1-9][0-9]*)|(chat):(-?[1-9][0-9]*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RING_KEY = "tipline.outbox.enqueued"
log = logging.getLogger("tipline.outbox")
_bells: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


# --- recipients --------------------------------------------------------------------------------


def tipster_recipient(tipster_id: int) -> str:
    """The recipient string for a tipster (their chat id stays sealed in the vault)."""
    return f"tipster:{int(tipster_id)}"


def chat_recipient(chat_id: int) -> str:
    """The recipient string for a chat whose id is not secret (staff group, family chat)."""
    return f"chat:{int(chat_id)}"


def parse_recipient(recipient: str) -> tuple[Literal["tipster", "chat"], int]:
    """Split a recipient into its kind and number; ValueError when it is not one we know."""
    match = _RECIPIENT.fullmatch(recipient)
    if match is None:
        raise ValueError(f"unknown recipient {recipient!r}")
    if match.group(1):
        return "tipster", int(match.group(2))
    return "chat", int(match.group(4))


def is_group(recipient: str) -> bool:
    """Whether the recipient is a group or supergroup (Telegram gives groups negative ids)."""
    return recipient.startswith("chat:-")


# --- payloads ----------------------------------------------------------------------------------


def telegram_text(
    text: str, *, buttons: list[list[tuple[str, str]]] | None = None, protect: bool = False
) -> dict[str, Any]:
    """A sendMessage payload; buttons are rows of (label, callback_data)."""
    if not text.strip() or len(text) > TEXT_LIMIT:
        raise ValueError(f"text must be 1..{TEXT_LIMIT} characters")
    payload: dict[str, Any] = {"method": "sendMessage", "text": text, "protect_content": protect}
    if buttons:
        payload["buttons"] = _buttons(buttons)
    return payload


def telegram_photo(
    display_sha: str,
    caption: str,
    *,
    buttons: list[list[tuple[str, str]]] | None = None,
    protect: bool = False,
) -> dict[str, Any]:
    """A sendPhoto payload of OUR clean display copy (never a tipster's file_id)."""
    if _SHA256.fullmatch(display_sha) is None:
        raise ValueError("display_sha must be the SHA-256 of a display copy")
    if len(caption) > CAPTION_LIMIT:
        raise ValueError(f"caption must be at most {CAPTION_LIMIT} characters")
    payload: dict[str, Any] = {
        "method": "sendPhoto",
        "display_sha256": display_sha,
        "caption": caption,
        "protect_content": protect,
    }
    if buttons:
        payload["buttons"] = _buttons(buttons)
    return payload


def _buttons(rows: list[list[tuple[str, str]]]) -> list[list[list[str]]]:
    checked = []
    for row in rows:
        for label, data in row:
            if not label or not 1 <= len(data.encode()) <= CALLBACK_LIMIT:
                raise ValueError(f"a button needs a label and 1..{CALLBACK_LIMIT} bytes of data")
        checked.append([[label, data] for label, data in row])
    return checked


# --- enqueue -----------------------------------------------------------------------------------


async def enqueue(
    session: AsyncSession, *, channel: str, recipient: str, payload: dict[str, Any], key: str
) -> bool:
    """Add a message in the caller's transaction (never commits); False when the key exists."""
    if channel == "telegram":
        parse_recipient(recipient)
    if not channel or not 1 <= len(key) <= KEY_LIMIT:
        raise ValueError(f"a channel and an idempotency key of 1..{KEY_LIMIT} characters")
    now = utcnow()
    row = {
        "idempotency_key": key,
        "channel": channel,
        "recipient": recipient,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(OutboxMessage).values(row).on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    added = (await session.execute(stmt.returning(OutboxMessage.id))).first() is not None
    if added:
        _ring_after_commit(session.sync_session)
    return added


def subscribe(bell: asyncio.Event) -> None:
    """Set `bell` whenever a transaction that enqueued messages commits in this process."""
    _bells.add(bell)


def _ring_after_commit(session: Session) -> None:
    session.info[_RING_KEY] = True
    if not event.contains(session, "after_commit", _ring):
        event.listen(session, "after_commit", _ring)
        event.listen(session, "after_rollback", _forget)


def _ring(session: Session) -> None:
    if session.info.pop(_RING_KEY, False):
        for bell in list(_bells):
            bell.set()


def _forget(session: Session) -> None:
    session.info.pop(_RING_KEY, None)


# --- what the relay and a sender agree on ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed outbox row on its way to a sender."""

    id: int
    key: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a send came to: sent, flood control (wait), transient (retry) or permanent (dead)."""

    kind: Literal["sent", "flood", "transient", "permanent"]
    reason: str = ""
    retry_after: float = 0.0

    @classmethod
    def sent(cls) -> Outcome:
        """Delivered."""
        return cls("sent")

    @classmethod
    def flood(cls, retry_after: float) -> Outcome:
        """Flood control: wait retry_after seconds; not a failed attempt."""
        return cls("flood", f"flood control: retry after {retry_after:g} s", retry_after)

    @classmethod
    def transient(cls, reason: str) -> Outcome:
        """Worth retrying later (5xx, network, timeout)."""
        return cls("transient", reason)

    @classmethod
    def permanent(cls, reason: str) -> Outcome:
        """Retrying cannot help (blocked, chat gone, bad request): park the row as dead."""
        return cls("permanent", reason)


class Sender(Protocol):
    """Delivers one message on one channel and says how it went (never raises for API errors)."""

    async def send(self, message: Outgoing) -> Outcome:
        """Send the message."""
        ...


async def keep_external_id(
    sessions: async_sessionmaker[AsyncSession], outbox_id: int, external_id: str
) -> None:
    """Keep the provider's id of a sent message on its row (where delivery statuses find it);
    a failure is only logged: the message went."""
    stmt = update(OutboxMessage).where(OutboxMessage.id == outbox_id)
    try:
        async with sessions() as session:
            await session.execute(stmt.values(external_id=external_id, delivery_status="sent"))
            await session.commit()
    except Exception:  # noqa: BLE001 - the message went; only its statuses are lost
        log.warning("outbox %s: could not keep its provider message id", outbox_id)


# --- dead rows, for admins ---------------------------------------------------------------------


async def list_dead(session: AsyncSession, *, limit: int = 100) -> Sequence[OutboxMessage]:
    """Messages parked as dead (blocked, chat gone, too many failures), oldest first."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == DEAD)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def requeue_dead(session: AsyncSession, ids: Sequence[int]) -> int:
    """Give dead messages a fresh set of attempts, due now; returns how many; commits."""
    if not ids:
        return 0
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=utcnow())
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    count = len((await session.execute(stmt)).all())
    if count:
        _ring_after_commit(session.sync_session)
    await session.commit()
    return count
