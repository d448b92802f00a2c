"""Reading the audit trail: filtered pages for auditors, and CSV exports that are audited too.

audit_events is append-only: nothing in Tipline updates or deletes it (a test greps for it).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput
from moderation.policy import require
from storage.models import AuditEvent, StaffUser

PAGE = 100
MAX_PAGE = 1000
MAX_EXPORT = 100_000
COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "object_type",
    "object_ref",
    "reason",
    "detail",
)
# A cell starting with one of these is a formula to a spreadsheet; some cells are typed by
# anyone (a failed sign-in's e-mail), so they are defused.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What an auditor narrows the trail to (all optional; since inclusive, until exclusive)."""

    actor_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


EVERYTHING = AuditFilter()


def _allow(staff: StaffUser, action: str) -> None:
    require(staff, action, "your role may not read the audit trail")


def _filtered(filters: AuditFilter) -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    if filters.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.object_type:
        stmt = stmt.where(AuditEvent.object_type == filters.object_type)
    if filters.since is not None:
        stmt = stmt.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEvent.at < filters.until)
    return stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


async def list_events(
    session: AsyncSession,
    *,
    staff: StaffUser,
    filters: AuditFilter = EVERYTHING,
    limit: int = PAGE,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    """A page of the trail, newest first (auditors and admins: audit.view)."""
    _allow(staff, "audit.view")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"ask for 1 to {MAX_PAGE} events from offset 0 or more")
    stmt = _filtered(filters).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(events: Sequence[AuditEvent]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for event in events:
        writer.writerow([_cell(getattr(event, column)) for column in COLUMNS])
    return buffer.getvalue()


async def export_csv(
    session: AsyncSession,
    *,
    staff: StaffUser,
    filters: AuditFilter = EVERYTHING,
) -> str:
    """The filtered trail as CSV, newest first (auditors: audit.export); audited. Commits."""
    _allow(staff, "audit.export")
    events = (await session.scalars(_filtered(filters).limit(MAX_EXPORT))).all()
    text = _csv(events)
    await staff_action(
        session,
        staff,
        "audit.export",
        "audit_events",
        str(len(events)),
        detail={
            "filters": {
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in asdict(filters).items()
                if value is not None
            },
            "truncated": len(events) == MAX_EXPORT,
        },
    )
    await session.commit()
    return text
