"""The chat processor: a transport's durable inbox (WhatsApp's, SMS's) through the router.

A transport is the small description below: its inbox table, how a stored message becomes
plain input, and the channel its replies go out on. Each round takes the oldest pending message
of each sender (a sender's messages in order; FOR UPDATE SKIP LOCKED on PostgreSQL, so several
worker processes share the work), and for each one, in ONE transaction: the conversation state
read and written, the flow's writes, the replies as outbox rows, and the message marked
processed with its payload and sealed sender reduced. A failure rolls all of that back and the
message is tried again with backoff; after `max_attempts` it is parked with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, Table, func, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import Texts
from core.identity.conversations import chat_state_key
from core.identity.tipsters import add_to_identity, get_or_create_tipster
from handlers.chats.router import Chat, route
from handlers.chats.store import StateRow
from handlers.context import BotServices
from handlers.engine.channel import Channel, Origin
from handlers.engine.inputs import Input
from handlers.engine.wizard import Conversation
from handlers.tipster.limits import kept_for_later, message_key, overall_wait
from storage.models import Tipster
from storage.types import utcnow

log = logging.getLogger("tipline.chats")
BACKOFF_SECONDS = (2, 10, 60, 300)
# What the sealed sender holds besides the identity the tipster is found by.
NOT_IDENTITY = frozenset({"channel", "external_id", "shared_contacts"})


@dataclass(frozen=True, slots=True)
class Transport:
    """How one channel's inbox plugs into the processor.

    `inbox` needs the columns of `whatsapp_inbox`: id, sender_key, sealed_sender (the vault's
    sealing of {"channel", "external_id", ...}), kind, payload, status ("pending", then
    "processed" or "parked"), attempts, last_error, next_attempt_at, processed_at.
    """

    name: str
    """The tipster channel, the outbox channel and the state namespace: "whatsapp", "sms"."""
    inbox: Table
    read: Callable[[str, dict[str, Any]], Input]
    """(kind, payload) -> the message as plain input."""
    channel: Callable[[AsyncSession, Texts, str], Channel]
    """(session, texts, reply key) -> the channel writing replies as outbox rows in session."""
    language: Callable[[str], str]
    """A new tipster's language from their external id (a phone number's country)."""
    resolve: Callable[[AsyncSession, int, Input], Awaitable[Input]] | None = None
    """(session, tipster id, input) -> the input as the flows read it, for a channel whose
    input means something only with what it last sent (SMS: "2" is a numbered choice)."""
    variant: str = "chat"
    """The texts' variant (core.i18n.Texts): where Telegram's texts name its commands."""


def error_text(exc: Exception) -> str:
    """What is kept of a failure: a database error's message quotes the statement's values,
    and a validation error's the data's (what people wrote), so of those only the types."""
    if isinstance(exc, StatementError):
        return f"{type(exc).__name__}: {type(exc.orig).__name__}"
    if isinstance(exc, ValidationError):
        return f"{type(exc).__name__}: {exc.error_count()} errors"
    return f"{type(exc).__name__}: {exc}"[:500]


class ChatProcessor:
    """Answers a transport's pending messages through the channel-neutral router."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        services: BotServices,
        batch: int = 50,
        max_attempts: int = 5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.transport = transport
        self.services = services
        self.batch = batch
        self.max_attempts = max_attempts
        inbox = transport.inbox.c
        first = select(func.min(inbox.id)).where(inbox.status == "pending")
        self._first_per_sender = first.group_by(inbox.sender_key)

    async def run_once(self) -> int:
        """Handle the oldest due message of each sender; how many were handled."""
        due = await self._due()
        for message in due:
            await self._one(message)
        return len(due)

    async def _due(self) -> Sequence[Row[Any]]:
        inbox = self.transport.inbox.c
        columns = (inbox.id, inbox.sealed_sender, inbox.kind, inbox.payload, inbox.attempts)
        stmt = (
            select(*columns)
            .where(inbox.id.in_(self._first_per_sender), inbox.next_attempt_at <= self.clock())
            .order_by(inbox.id)
            .limit(self.batch)
        )
        async with self.sessions() as session:
            return (await session.execute(stmt)).all()  # type: ignore[return-value]

    async def _one(self, message: Row[Any]) -> None:
        try:
            record = self.services.vault.open(message.sealed_sender)
            tipster_id = await self._tipster(record)
            async with self.sessions() as session:
                if await self._claim(session, message.id):
                    await self._handle(session, message, record, tipster_id)
                    await session.commit()
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then parked
            await self._failed(message, exc)

    async def _tipster(self, record: dict[str, Any]) -> int:
        """The sender's tipster (made, and committed, on their first message)."""
        try:
            return await self._find_or_make(record)
        except IntegrityError:  # another processor made them at the same moment: theirs is found
            return await self._find_or_make(record)

    async def _find_or_make(self, record: dict[str, Any]) -> int:
        phone = str(record["external_id"])
        identity = {k: v for k, v in record.items() if k not in NOT_IDENTITY}
        async with self.sessions() as session:
            tipster = await get_or_create_tipster(
                session,
                self.services.vault,
                channel=self.transport.name,
                external_id=phone,
                identity=identity,
                language=self.transport.language(phone),
            )
            return tipster.id

    async def _claim(self, session: AsyncSession, message_id: int) -> bool:
        inbox = self.transport.inbox.c
        stmt = (
            select(inbox.id)
            .where(inbox.id == message_id, inbox.status == "pending")
            .with_for_update(skip_locked=True)
        )
        return (await session.execute(stmt)).first() is not None

    async def _handle(
        self, session: AsyncSession, message: Row[Any], record: dict[str, Any], tipster_id: int
    ) -> None:
        """Route the message, write the state, mark it processed (the caller commits)."""
        tipster = await session.get(Tipster, tipster_id)
        if record.get("shared_contacts") is not None:  # a contact card goes to the vault only
            extra = {"shared_contacts": record["shared_contacts"]}
            await add_to_identity(session, self.services.vault, tipster_id=tipster_id, extra=extra)
        if tipster is not None and not tipster.blocked:
            wait = await self._converse(session, message, tipster, str(record["external_id"]))
            if wait:  # kept: the sender's later messages wait behind it
                later = self.clock() + timedelta(seconds=wait)
                await self._mark(session, message.id, next_attempt_at=later, reduce=False)
                return
        await self._mark(session, message.id, status="processed", processed_at=self.clock())

    async def _converse(
        self, session: AsyncSession, message: Row[Any], tipster: Tipster, external_id: str
    ) -> float:
        """Answer the message; or, beyond the overall rate, the seconds until it is taken again."""
        name, vault = self.transport.name, self.services.vault
        texts = Texts(tipster.language, self.transport.variant)
        store = StateRow(session, chat_state_key(vault, channel=name, external_id=external_id))
        state = await store.load()
        channel = self.transport.channel(session, texts, f"{name}-reply:{message.id}")
        conversation = Conversation(store, channel, tipster.id, texts, state)
        if not await self._within_rate(conversation):
            return 0.0
        wait = await overall_wait(self.services, tipster_id=tipster.id, under_way=state is not None)
        if wait:
            # The notice has keys of its own: the message's replies go out when it is handled.
            busy = self.transport.channel(session, texts, f"{name}-busy:{message.id}")
            notice = Conversation(store, busy, tipster.id, texts, state)
            limiter = self.services.limiter
            await kept_for_later(notice, limiter, tipster_id=tipster.id, channel=name)
            return wait
        chat = Chat(session, tipster, self.services, self._origin(tipster.id))
        said = self.transport.read(message.kind, message.payload)
        if self.transport.resolve is not None:
            said = await self.transport.resolve(session, tipster.id, said)
        await route(conversation, said, chat)
        await conversation.save()
        await store.write()
        return 0.0

    async def _within_rate(self, conversation: Conversation) -> bool:
        """The message rate per tipster, as on Telegram: over it, the message is not read and
        the person is told once a minute."""
        limiter, tipster_id = self.services.limiter, conversation.chat_id
        limit = self.services.limits.messages_per_minute
        if await limiter.hit(message_key(tipster_id), limit=limit, window=60):
            return True
        if await limiter.hit(f"notice:{tipster_id}", limit=1, window=60):
            await conversation.say(conversation.texts("limits.slow_down"))
        return False

    def _origin(self, tipster_id: int) -> Callable[[str, str], Origin]:
        """Drafts sent from this chat: keyed by person and draft, so a repeat finds the first."""
        name, vault = self.transport.name, self.services.vault

        def origin(kind: str, draft_id: str) -> Origin:
            prefix = name if kind == "tip" else f"{name}-{kind}"
            key = vault.keyed(f"{kind}-source", f"{name}:{tipster_id}:{draft_id}")
            return Origin(name, f"{prefix}:{key}")

        return origin

    async def _mark(
        self, session: AsyncSession, message_id: int, *, reduce: bool = True, **values: Any
    ) -> None:
        """Processed: the payload and the sealed sender are reduced (docs/retention.md); a
        message kept for later (`reduce` False) keeps them."""
        inbox = self.transport.inbox
        stmt = update(inbox).where(inbox.c.id == message_id, inbox.c.status == "pending")
        if reduce:
            values.update(payload={}, sealed_sender=b"", last_error=None)
        await session.execute(stmt.values(**values))

    async def _failed(self, message: Row[Any], exc: Exception) -> None:
        """Try again later, or park the message with its reason after the last attempt."""
        attempts = message.attempts + 1
        wait = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": error_text(exc),
            "next_attempt_at": self.clock() + timedelta(seconds=wait),
        }
        parked = attempts >= self.max_attempts
        if parked:
            values["status"] = "parked"
        log.warning(
            "%s message %s failed (attempt %d%s): %s",
            self.transport.name,
            message.id,
            attempts,
            ", parked" if parked else "",
            type(exc).__name__,
        )
        inbox = self.transport.inbox
        stmt = update(inbox).where(inbox.c.id == message.id, inbox.c.status == "pending")
        async with self.sessions() as session:
            await session.execute(stmt.values(**values))
            await session.commit()
