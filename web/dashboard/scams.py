"""Scam reports: what families reported from the leads they got, with the lead quoted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from moderation.cases.scam_reports import VIEW_ACTION, list_scam_reports
from web.dashboard.deps import Staff, require
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)


@router.get("/scam-reports", response_class=HTMLResponse)
async def scam_reports(request: Request, staff: Annotated[Staff, require(VIEW_ACTION)]) -> Response:
    """The latest reports, newest first: the case, the tip, the lead as the family read it."""
    reports = await list_scam_reports(staff.db, staff=staff.user)
    return page(request, "dash/scam_reports.html", staff, reports=reports)
