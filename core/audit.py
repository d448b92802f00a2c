"""The audit trail: who did what to which object, when and why."""

from __future__ import annotations

from typing import Any

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
