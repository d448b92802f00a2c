"""Admins see what could not be delivered or processed, and send it round again (audited)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.delivery import inbox_admin, outbox
from core.delivery.inbox_admin import DeadUpdate
from moderation.policy import require
from storage.models import OutboxMessage, StaffUser


@dataclass(frozen=True, slots=True)
class DeadLetters:
    """Dead outbox rows and dead inbox updates (never their content)."""

    messages: list[OutboxMessage]
    updates: list[DeadUpdate]


def _check(staff: StaffUser) -> None:
    require(staff, "system.dead_letters", "only admins see dead letters")


async def list_dead_letters(session: AsyncSession, *, staff: StaffUser) -> DeadLetters:
    """What is parked as dead, oldest first."""
    _check(staff)
    messages = list(await outbox.list_dead(session))
    updates = await inbox_admin.list_dead(session)
    return DeadLetters(messages=messages, updates=updates)


async def retry_dead_letter(
    session: AsyncSession, *, staff: StaffUser, kind: str, item_id: int
) -> int:
    """Queue one dead outbox row or inbox update again; audited; commits."""
    _check(staff)
    if kind == "outbox":
        count = await outbox.requeue_dead(session, [item_id])
    elif kind == "inbox":
        count = await inbox_admin.retry_dead(session, update_ids=[item_id])
    else:
        raise ValueError("kind must be outbox or inbox")
    if count:
        await staff_action(session, staff, f"{kind}.retry", kind, str(item_id))
        await session.commit()
    return count
