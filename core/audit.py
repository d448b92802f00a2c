"""The audit trail: who did what to which object, when and why."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent
from storage.repositories import AuditRepository


async def record(
    session: AsyncSession,
    *,
    actor_role: str,
    action: str,
    object_type: str,
    object_ref: str,
    actor_id: int | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction (the caller commits)."""
    event = AuditEvent(
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        object_type=object_type,
        object_ref=object_ref,
        reason=reason,
        detail=detail or {},
    )
    return await AuditRepository(session).add(event)


class Actor(Protocol):
    """Whoever acts: a staff account (its id and role go into the trail)."""

    id: int
    role: str


async def staff_action(
    session: AsyncSession,
    staff: Actor,
    action: str,
    object_type: str,
    object_ref: str,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append what a staff member did to which object, in the caller's transaction."""
    return await record(
        session,
        actor_id=staff.id,
        actor_role=staff.role,
        action=action,
        object_type=object_type,
        object_ref=object_ref,
        reason=reason,
        detail=detail,
    )
