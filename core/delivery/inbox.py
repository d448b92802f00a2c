"""Durable admission: a Telegram update is committed to the inbox before it is acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.group_commit import GroupCommitter, Waiting
from storage.repositories import InboxRepository

_CHAT_HOLDERS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)


def _chat_id(message: object) -> int | None:
    """The message's chat id; None unless both are objects and the id an integer (admission
    takes any JSON: a chat that is `true` must not fail the batch it is committed in)."""
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return chat_id if isinstance(chat_id, int) else None


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (for per-chat ordering and fairness), if any."""
    for key in _CHAT_HOLDERS:
        if isinstance(update.get(key), dict):
            return _chat_id(update[key])
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        chat_id = _chat_id(value.get("message"))
        if chat_id is not None:
            return chat_id
        sender = value.get("from") or value.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def validate_update(update: object) -> dict[str, Any]:
    """Accept only an object with an integer update_id; raise ValueError otherwise."""
    if not isinstance(update, dict):
        raise ValueError("an update must be a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < 2**63:
        raise ValueError("an update must have an update_id from 0 to 2**63 - 1")
    return update


def _unavailable(exc: Exception) -> bool:
    """Whether a failed commit says the database is out of reach (down, locked, a lost
    connection), which would fail any update alike, rather than that an update is bad."""
    if getattr(exc, "connection_invalidated", False):
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


def private_callback_query_id(update: dict[str, Any]) -> str | None:
    """The id of a button press in a private chat, which the webhook answers in its response.

    Presses in groups (the moderators' buttons) are answered by their handler, with a text.
    """
    query = update.get("callback_query")
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        return None
    message = query.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    if isinstance(chat, dict) and chat.get("type") == "private":
        return str(query["id"])
    return None


ChatKey = Callable[[int], int]


def _rows(
    updates: Sequence[dict[str, Any]], chat_key: ChatKey
) -> list[tuple[int, int | None, dict[str, Any]]]:
    """(update_id, keyed chat, update): the inbox keeps a keyed number, never the chat id."""
    rows = []
    for update in updates:
        chat = chat_of(update)
        rows.append((update["update_id"], None if chat is None else chat_key(chat), update))
    return rows


async def admit(
    session: AsyncSession,
    updates: Sequence[dict[str, Any]],
    *,
    chat_key: ChatKey,
    acknowledged: Collection[int] = (),
) -> int:
    """Insert updates (duplicates ignored) and commit; returns how many were new.

    `chat_key` turns a chat id into the keyed number the inbox groups by (Vault.chat_key).
    `acknowledged`: update_ids whose callback query was answered at admission (webhook
    response), so the processor does not answer them again.
    """
    rows = _rows(updates, chat_key)
    new = await InboxRepository(session).add_many(rows, acknowledged=acknowledged)
    await session.commit()
    return new


class Admitted(NamedTuple):
    """What one admission committed, for a processor in the same process to take from memory.

    `pending` is every pending inbox row of the admitted updates' chats, as (id, chat_id,
    attempts), read in the admitting transaction: the processor takes a chat's new updates from
    memory only when nothing else of that chat is pending that it does not already hold.
    """

    updates: dict[int, tuple[dict[str, Any], bool]]  # by inbox id: the update, acknowledged
    pending: list[tuple[int, int, int]]


async def admit_for_handoff(
    session: AsyncSession,
    updates: Sequence[dict[str, Any]],
    *,
    chat_key: ChatKey,
    acknowledged: Collection[int] = (),
) -> Admitted:
    """`admit`, returning the new rows and their chats' pending rows."""
    rows = _rows(updates, chat_key)
    repo = InboxRepository(session)
    ids = await repo.insert_new(rows, acknowledged=acknowledged)
    pending = await repo.pending_in_chats({c for u, c, _ in rows if c is not None and u in ids})
    await session.commit()
    new = {ids[u]: (update, u in acknowledged) for u, _, update in rows if u in ids}
    return Admitted(new, pending)


Handoff = Callable[[Admitted], None]


class Pending(NamedTuple):
    """An update waiting for the batch commit."""

    update: dict[str, Any]
    acknowledged: bool


class AdmissionBatcher(GroupCommitter[Pending]):
    """Group commit of Telegram updates: concurrent admissions share one transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        chat_key: ChatKey,
        max_batch: int = 500,
        max_delay: float = 0.002,
        wakeup: asyncio.Event | None = None,
        handoff: Handoff | None = None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        """`wakeup` is set after each commit; `handoff` (a processor in this process) is given
        what was committed, so it need not read it back, whenever `ready()` says it can use
        it."""
        super().__init__(max_batch=max_batch, max_delay=max_delay, name="inbox-admission")
        self._sessions = sessions
        self._chat_key = chat_key
        self._wakeup_processor = wakeup
        self._handoff = handoff
        self._ready = ready

    async def admit(self, update: dict[str, Any], *, acknowledged: bool = False) -> None:
        """Return once the update is committed; raise if the commit failed.

        `acknowledged`: its callback query is answered in the webhook's response.
        """
        await self._submit(Pending(update, acknowledged))

    async def _commit(self, batch: list[Waiting[Pending]]) -> None:
        """Commit the batch; when it fails for something one update did, each is committed
        alone, so that one bad update (Telegram would deliver it again and again) is the only
        one refused, not every update that happened to share its transaction."""
        updates = [one.item.update for one in batch]
        acknowledged = {one.item.update["update_id"] for one in batch if one.item.acknowledged}
        handoff = self._handoff if self._handoff is not None and self._ready() else None
        try:
            async with self._sessions() as session:
                if handoff is None:
                    await admit(
                        session, updates, chat_key=self._chat_key, acknowledged=acknowledged
                    )
                else:
                    admitted = await admit_for_handoff(
                        session, updates, chat_key=self._chat_key, acknowledged=acknowledged
                    )
        except Exception as exc:  # noqa: BLE001 - every waiter learns the commit failed
            if len(batch) == 1 or _unavailable(exc):
                self._fail(batch, exc)
                return
            for one in batch:
                await self._commit([one])
            return
        self._done(batch)
        if handoff is not None:
            handoff(admitted)
        elif self._wakeup_processor is not None:
            self._wakeup_processor.set()
