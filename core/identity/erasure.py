"""Erasing a tipster's identity: the vault entry, contact permission, conversation state (in the
database and, with TIPLINE_REDIS_URL, in Redis) and pending messages go; tips stay,
pseudonymous and unlinkable.

Originals of their photos (the untouched files, with the camera's metadata) go too, unless the
photo is in a police packet: those are kept under legal hold, and the audit event says how many.
Clean display copies and thumbnails stay with the tips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import Exists

from core.audit import record
from core.delivery.outbox import SENT, tipster_recipient
from core.identity.conversations import RedisConversations, chat_state_key
from core.identity.vault import Vault
from core.sms.admission import forget_sender
from core.sms.admission import sender_key as sms_sender_key
from core.waits import cancel_and_wait
from core.whatsapp.admission import sender_key
from storage.models import (
    AuditEvent,
    CasePhoto,
    Forward,
    FsmState,
    OutboxMessage,
    Subscription,
    Tip,
    TipPhoto,
    Tipster,
    TipsterIdentity,
    WhatsAppInbound,
)
from storage.photostore import PhotoStore
from storage.types import utcnow

log = logging.getLogger("tipline.erasure")
# Whoever caches tipsters or conversation states in this process (the inbox processor) is told
# after an erasure commits, so a cached entry cannot bring the erased link back.
_listeners: weakref.WeakSet[ErasureListener] = weakref.WeakSet()


class ErasureListener:
    """Something that forgets cached tipsters and states when an erasure commits."""

    def __init__(self, forget: Callable[[], None]) -> None:
        self.forget = forget


def listen(listener: ErasureListener) -> None:
    """Call `listener.forget()` after every erasure committed in this process (keep a reference
    to the listener: it is held weakly)."""
    _listeners.add(listener)


@dataclass(slots=True)
class Erased:
    """What one erasure removed, as counts (the audit trail never holds content)."""

    pseudonym: str
    identity: int = 0
    conversation_states: int = 0
    contact_permissions: int = 0
    subscriptions: int = 0
    pending_messages: int = 0
    originals: int = 0
    photos_on_legal_hold: int = 0
    whatsapp_messages: int = 0
    sms_messages: int = 0
    files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The audit detail."""
        return {
            "identity": self.identity,
            "conversation_states": self.conversation_states,
            "contact_permissions": self.contact_permissions,
            "subscriptions": self.subscriptions,
            "pending_messages": self.pending_messages,
            "originals": self.originals,
            "photos_on_legal_hold": self.photos_on_legal_hold,
        } | {
            name: count
            for name, count in (
                ("whatsapp_messages", self.whatsapp_messages),
                ("sms_messages", self.sms_messages),
            )
            if count
        }


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _forget_identity(
    session: AsyncSession,
    vault: Vault,
    tipster_id: int,
    erased: Erased,
    redis: RedisConversations | None,
) -> None:
    """The vault row, and the conversation state found through what it held (wherever it is:
    Redis is cleared before the commit, so an unreachable Redis fails the whole erasure)."""
    identity = await session.scalar(
        select(TipsterIdentity).where(TipsterIdentity.tipster_id == tipster_id)
    )
    if identity is None:
        return
    record_ = vault.open(identity.ciphertext)
    chat, user = record_.get("chat_id"), record_.get("user_id")
    if isinstance(chat, int) and isinstance(user, int):
        key = vault.conversation_key(chat_id=chat, user_id=user)
        result = await session.execute(delete(FsmState).where(FsmState.key == key))
        erased.conversation_states = _rows(result)
        if redis is not None and await redis.forget(key):
            erased.conversation_states += 1
    await _forget_messages(session, vault, record_, tipster_id, erased)
    await session.delete(identity)
    erased.identity = 1


async def _forget_messages(
    session: AsyncSession, vault: Vault, record_: dict[str, Any], tipster_id: int, erased: Erased
) -> None:
    """A WhatsApp or SMS tipster's admitted messages (each holds the number sealed, and a key
    that finds them by it) and their conversation state there. An SMS opt-out stays: a keyed
    hash that keeps their STOP honoured."""
    phone, channel = record_.get("external_id"), record_.get("channel")
    if not isinstance(phone, str) or channel not in ("whatsapp", "sms"):
        return
    if channel == "whatsapp":
        mine = WhatsAppInbound.sender_key == sender_key(vault, phone)
        erased.whatsapp_messages = _rows(await session.execute(delete(WhatsAppInbound).where(mine)))
    else:
        key = sms_sender_key(vault, phone)
        erased.sms_messages = await forget_sender(session, key, tipster_id)
    state = chat_state_key(vault, channel=channel, external_id=phone)
    result = await session.execute(delete(FsmState).where(FsmState.key == state))
    erased.conversation_states += _rows(result)


async def _forget_contact(session: AsyncSession, tipster_id: int, erased: Erased) -> None:
    """Permission to contact them (tips, alerts, family links) and messages not yet sent."""
    result = await session.execute(
        update(Tip)
        .where(Tip.tipster_id == tipster_id, Tip.contact_allowed.is_(True))
        .values(contact_allowed=False)
    )
    erased.contact_permissions = _rows(result)
    result = await session.execute(
        delete(Subscription).where(Subscription.tipster_id == tipster_id)
    )
    erased.subscriptions = _rows(result)
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.recipient == tipster_recipient(tipster_id), OutboxMessage.status != SENT
        )
    )
    erased.pending_messages = _rows(result)


def _in_police_packet() -> Exists:
    return exists().where(Forward.tip_id == TipPhoto.tip_id, Forward.audience == "police")


async def _release_originals(session: AsyncSession, tipster_id: int, erased: Erased) -> None:
    """Originals not in a police packet are let go; those that are stay, on legal hold."""
    theirs = TipPhoto.tip_id.in_(select(Tip.id).where(Tip.tipster_id == tipster_id))
    held = await session.scalar(
        select(func.count(TipPhoto.id)).where(
            theirs, TipPhoto.original_sha256.is_not(None), _in_police_packet()
        )
    )
    erased.photos_on_legal_hold = int(held or 0)
    free = (
        await session.execute(
            select(TipPhoto.id, TipPhoto.original_sha256).where(
                theirs, ~_in_police_packet(), TipPhoto.original_sha256.is_not(None)
            )
        )
    ).all()
    if not free:
        return
    await session.execute(
        update(TipPhoto)
        .where(TipPhoto.id.in_([row_id for row_id, _ in free]))
        .values(original_sha256=None, camera=None, exif_local_time=None)
    )
    erased.originals = len(free)
    shas = {sha for _, sha in free if sha is not None}
    # A file another photo (another tipster's copy, a case photo) still names stays.
    still = await session.scalars(
        select(TipPhoto.original_sha256).where(TipPhoto.original_sha256.in_(shas))
    )
    kept = set(still.all()) | set(
        (
            await session.scalars(
                select(CasePhoto.original_sha256).where(CasePhoto.original_sha256.in_(shas))
            )
        ).all()
    )
    erased.files = sorted(shas - {sha for sha in kept if sha is not None})


async def erase_identity(
    session: AsyncSession,
    vault: Vault,
    *,
    tipster_id: int,
    actor_id: int | None,
    actor_role: str,
    reason: str | None = None,
    request_id: int | None = None,
    originals: PhotoStore | None = None,
    conversations: RedisConversations | None = None,
) -> Erased:
    """Erase a tipster's identity and what links them to it; audited as counts. Commits.

    `conversations`: the Redis holding conversation state, when the bot keeps it there.
    """
    tipster = await session.get(Tipster, tipster_id)
    if tipster is None:
        raise LookupError("no such tipster")
    erased = Erased(pseudonym=tipster.pseudonym)
    await _forget_identity(session, vault, tipster_id, erased, conversations)
    await _forget_contact(session, tipster_id, erased)
    await _release_originals(session, tipster_id, erased)
    detail: dict[str, object] = {**erased.counts()}
    if request_id is not None:
        detail["request_id"] = request_id
    await record(
        session,
        actor_id=actor_id,
        actor_role=actor_role,
        action=ERASED,
        object_type="tipster",
        object_ref=tipster.pseudonym,
        reason=reason,
        detail=detail,
    )
    await session.commit()
    _notify()
    if originals is not None:
        for sha in erased.files:
            await asyncio.to_thread(originals.delete, sha)
    return erased


def _notify() -> None:
    for listener in list(_listeners):
        try:
            listener.forget()
        except Exception:  # a listener's bug must not undo a committed erasure
            log.exception("an erasure listener failed")


ERASED = "identity.erased"
WATCH_INTERVAL = 2.0
WATCH_WINDOW = timedelta(minutes=5)


async def _recent_erasures(sessions: async_sessionmaker[AsyncSession]) -> set[int]:
    """Erasures recorded in the last few minutes (the `at` index keeps this cheap; the margin
    covers an erasure committed a while after its event was stamped)."""
    since = utcnow() - WATCH_WINDOW
    async with sessions() as session:
        ids = await session.scalars(
            select(AuditEvent.id).where(AuditEvent.at >= since, AuditEvent.action == ERASED)
        )
        return set(ids.all())


async def _watch(
    sessions: async_sessionmaker[AsyncSession], forget: Callable[[], None], interval: float
) -> None:
    seen = await _recent_erasures(sessions)
    while True:
        await asyncio.sleep(interval)
        try:
            recent = await _recent_erasures(sessions)
        except Exception:  # noqa: BLE001 - the database is away: look again next time
            log.warning("could not look for erasures; trying again")
            continue
        if recent - seen:
            forget()
        seen = recent


@contextlib.asynccontextmanager
async def watching_erasures(
    sessions: async_sessionmaker[AsyncSession],
    forget: Callable[[], None],
    *,
    interval: float = WATCH_INTERVAL,
) -> AsyncIterator[None]:
    """Call `forget()` within `interval` seconds of an erasure committed by any process (another
    `tipline run` whose dashboard approved it): the in-process listener cannot hear those."""
    task = asyncio.create_task(_watch(sessions, forget, interval), name="erasure-watch")
    try:
        yield
    finally:
        await cancel_and_wait(task)
