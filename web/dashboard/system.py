"""Admin pages: dead outbox rows and dead inbox updates, with a retry button each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from moderation.dead_letters import list_dead_letters, retry_dead_letter
from web.dashboard.deps import Staff, require
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)


@router.get("/system/dead", response_class=HTMLResponse)
async def dead_letters(
    request: Request, staff: Annotated[Staff, require("system.dead_letters")]
) -> Response:
    """Everything parked as dead, with its reason (never its content)."""
    found = await list_dead_letters(staff.db, staff=staff.user)
    return page(request, "dash/dead.html", staff, found=found)


@router.post("/system/dead/retry")
async def retry(
    request: Request, staff: Annotated[Staff, require("system.dead_letters")]
) -> Response:
    """Send one dead item round again."""
    form = await request.form()
    kind = str(form.get("kind", ""))
    item = str(form.get("id", ""))
    if kind in ("outbox", "inbox") and item.isdigit():
        await retry_dead_letter(staff.db, staff=staff.user, kind=kind, item_id=int(item))
    return RedirectResponse("/system/dead", status_code=303)
