"""Audit trail pages over moderation.audit: filtered pages, a CSV export (itself audited)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from moderation.audit import PAGE, AuditFilter, export_csv, list_events
from web.dashboard.deps import Staff, require
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)
FIELDS = ("actor", "action", "object_type", "since", "until")


def _day(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def audit_filters(values: Mapping[str, Any]) -> AuditFilter:
    """The use case's filters from a query string or form; until is inclusive here."""
    actor = str(values.get("actor", "")).strip()
    until = _day(str(values.get("until", "")))
    return AuditFilter(
        actor_id=int(actor) if actor.isdigit() else None,
        action=str(values.get("action", "")).strip()[:60] or None,
        object_type=str(values.get("object_type", "")).strip()[:40] or None,
        since=_day(str(values.get("since", ""))),
        until=until + timedelta(days=1) if until else None,
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_trail(request: Request, staff: Annotated[Staff, require("audit.view")]) -> Response:
    """Who did what to which object, newest first."""
    params = request.query_params
    number = int(params["page"]) if params.get("page", "").isdigit() else 0
    events = await list_events(
        staff.db,
        staff=staff.user,
        limit=PAGE,
        offset=min(number, 10_000) * PAGE,
        filters=audit_filters(params),
    )
    return page(
        request,
        "dash/audit.html",
        staff,
        events=events,
        params=params,
        fields=FIELDS,
        page_no=number,
        page_size=PAGE,
    )


@router.post("/audit/export")
async def audit_export(
    request: Request, staff: Annotated[Staff, require("audit.export")]
) -> Response:
    """The filtered trail as a CSV download; the export is recorded in the trail."""
    form = await request.form()
    text = await export_csv(staff.db, staff=staff.user, filters=audit_filters(form))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="tipline-audit-{stamp}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
