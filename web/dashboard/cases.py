"""GET /cases and GET /cases/{ref}: the cases, and one case's sightings on a map and a timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from core.i18n import Texts
from moderation.cases.lifecycle import next_statuses
from moderation.cases.matches import matches_of_case
from moderation.cases.view import CASE_KINDS, CASE_STATUSES, case_photos, list_cases, view_case
from web.dashboard.deps import Staff, require
from web.dashboard.matches import reason_words
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
async def cases(request: Request, staff: Annotated[Staff, require("case.view")]) -> Response:
    """Every case with how many of its tips this role may see."""
    status = request.query_params.get("status", "")
    kind = request.query_params.get("kind", "")
    rows = await list_cases(staff.db, staff=staff.user, status=status, kind=kind)
    return page(
        request,
        "dash/cases.html",
        staff,
        rows=rows,
        statuses=CASE_STATUSES,
        kinds=CASE_KINDS,
        params={"status": status, "kind": kind},
    )


@router.get("/cases/{ref}", response_class=HTMLResponse)
async def case_page(
    ref: str, request: Request, staff: Annotated[Staff, require("case.view")]
) -> Response:
    """A case's sightings in time order, on a map when places are known."""
    view = await view_case(staff.db, staff=staff.user, ref=ref)
    matches = await matches_of_case(staff.db, staff=staff.user, case_id=view.case.id)
    photos = await case_photos(staff.db, case_id=view.case.id)
    texts = Texts("en")
    return page(
        request,
        "dash/case.html",
        staff,
        view=view,
        case=view.case,
        next=next_statuses(view.case),
        matches=matches,
        photos=photos,
        words=lambda reason: reason_words(texts, reason),
    )
