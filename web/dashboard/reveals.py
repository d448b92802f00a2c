"""Identity reveal pages over moderation.privacy.reveal: one senior moderator asks with a reason, a
different one approves and sees the identity once (that page is never cached)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from core.errors import InvalidInput
from moderation.privacy.reveal import approve_reveal, list_pending, refuse_reveal, request_reveal
from moderation.review.tip_access import visible_tip
from storage.models import StaffUser, Tip, Tipster
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)


@router.post("/tips/{ref}/reveal")
async def ask_reveal(
    ref: str, request: Request, staff: Annotated[Staff, require("identity.request_reveal")]
) -> Response:
    """Ask to see the identity of this tip's tipster; a second senior moderator decides."""
    form = await request.form()
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="identity.request_reveal")
    if tip.tipster_id is None:
        return message(
            request, staff, title="No tipster", text="Sent without an account.", status=400
        )
    try:
        await request_reveal(
            staff.db,
            staff=staff.user,
            tipster_id=tip.tipster_id,
            tip_id=tip.id,
            reason=str(form.get("reason", "")),
        )
    except InvalidInput as exc:
        return message(request, staff, title="Not requested", text=str(exc), status=400)
    return RedirectResponse(f"/tips/{tip.ref}?reveal=asked", status_code=303)


async def _names(staff: Staff, key: Any, name: Any, ids: set[int]) -> dict[int, str]:
    """id -> a display name, for just the rows a page shows."""
    if not ids:
        return {}
    rows = await staff.db.execute(select(key, name).where(key.in_(ids)))
    return {row_id: text for row_id, text in rows.all()}


@router.get("/reveals", response_class=HTMLResponse)
async def pending_reveals(
    request: Request, staff: Annotated[Staff, require("identity.approve_reveal")]
) -> Response:
    """Requests waiting for a second senior moderator."""
    pending = await list_pending(staff.db, staff=staff.user)
    people = await _names(staff, StaffUser.id, StaffUser.email, {r.requested_by for r in pending})
    tipsters = await _names(staff, Tipster.id, Tipster.pseudonym, {r.tipster_id for r in pending})
    tips = await _names(staff, Tip.id, Tip.ref, {r.tip_id for r in pending if r.tip_id})
    return page(
        request,
        "dash/reveals.html",
        staff,
        pending=pending,
        people=people,
        tipsters=tipsters,
        tips=tips,
    )


@router.post("/reveals/{request_id}/approve", response_class=HTMLResponse)
async def approve(
    request_id: int, request: Request, staff: Annotated[Staff, require("identity.approve_reveal")]
) -> Response:
    """Approve and see the identity, once."""
    vault = web_context(request).vault
    if vault is None:
        return message(request, staff, title="Unavailable", text="No vault key.", status=503)
    try:
        identity = await approve_reveal(staff.db, vault, staff=staff.user, request_id=request_id)
    except PermissionError as exc:
        return message(request, staff, title="Not allowed", text=str(exc), status=403)
    except InvalidInput as exc:
        return message(request, staff, title="Already decided", text=str(exc), status=409)
    return page(request, "dash/revealed.html", staff, identity=identity)


@router.post("/reveals/{request_id}/refuse")
async def refuse(
    request_id: int, request: Request, staff: Annotated[Staff, require("identity.approve_reveal")]
) -> Response:
    """Refuse (or withdraw one's own) request."""
    form = await request.form()
    try:
        await refuse_reveal(
            staff.db, staff=staff.user, request_id=request_id, reason=str(form.get("reason", ""))
        )
    except InvalidInput as exc:
        return message(request, staff, title="Already decided", text=str(exc), status=409)
    return RedirectResponse("/reveals", status_code=303)
