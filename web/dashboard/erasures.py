"""Identity erasure pages over moderation.privacy.erasure: one senior moderator asks, by pseudonym
and with a reason; a different one approves, and the identity is erased at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from core.errors import InvalidInput, NotFound
from core.identity.conversations import ConversationsUnavailable
from moderation.privacy.erasure import (
    approve_erasure,
    list_pending,
    refuse_erasure,
    request_erasure,
)
from storage.models import StaffUser, Tipster
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)


@router.get("/erasures", response_class=HTMLResponse)
async def erasures(
    request: Request, staff: Annotated[Staff, require("identity.request_erasure")]
) -> Response:
    """The request form and the requests waiting for a second senior moderator."""
    pending = await list_pending(staff.db, staff=staff.user)
    askers = {r.requested_by for r in pending}
    emails = select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(askers))
    people = {row_id: email for row_id, email in (await staff.db.execute(emails)).all()}
    tipster_ids = {r.tipster_id for r in pending}
    names = select(Tipster.id, Tipster.pseudonym).where(Tipster.id.in_(tipster_ids))
    tipsters = {row_id: name for row_id, name in (await staff.db.execute(names)).all()}
    done = request.query_params.get("done")
    return page(
        request,
        "dash/erasures.html",
        staff,
        pending=pending,
        people=people,
        tipsters=tipsters,
        done=done if done in {"asked", "erased", "refused"} else None,
    )


@router.post("/erasures")
async def ask_erasure(
    request: Request, staff: Annotated[Staff, require("identity.request_erasure")]
) -> Response:
    """Ask to erase the identity of the tipster with this pseudonym."""
    form = await request.form()
    try:
        await request_erasure(
            staff.db,
            staff=staff.user,
            pseudonym=str(form.get("pseudonym", "")),
            reason=str(form.get("reason", "")),
        )
    except NotFound as exc:
        return message(request, staff, title="Not requested", text=str(exc), status=404)
    except InvalidInput as exc:
        return message(request, staff, title="Not requested", text=str(exc), status=400)
    return RedirectResponse("/erasures?done=asked", status_code=303)


@router.post("/erasures/{request_id}/approve")
async def approve(
    request_id: int,
    request: Request,
    staff: Annotated[Staff, require("identity.approve_erasure")],
) -> Response:
    """Approve: the identity is erased now (tips stay, pseudonymous)."""
    context = web_context(request)
    if context.vault is None:
        return message(request, staff, title="Unavailable", text="No vault key.", status=503)
    try:
        await approve_erasure(
            staff.db,
            context.vault,
            staff=staff.user,
            request_id=request_id,
            originals=context.photos.originals if context.photos else None,
            conversations=context.conversations,
        )
    except PermissionError as exc:
        return message(request, staff, title="Not allowed", text=str(exc), status=403)
    except NotFound as exc:
        return message(request, staff, title="Not found", text=str(exc), status=404)
    except InvalidInput as exc:
        return message(request, staff, title="Already decided", text=str(exc), status=409)
    except ConversationsUnavailable as exc:
        return message(request, staff, title="Not erased", text=str(exc), status=503)
    return RedirectResponse("/erasures?done=erased", status_code=303)


@router.post("/erasures/{request_id}/refuse")
async def refuse(
    request_id: int,
    request: Request,
    staff: Annotated[Staff, require("identity.approve_erasure")],
) -> Response:
    """Refuse (or withdraw one's own) request."""
    form = await request.form()
    try:
        await refuse_erasure(
            staff.db, staff=staff.user, request_id=request_id, reason=str(form.get("reason", ""))
        )
    except NotFound as exc:
        return message(request, staff, title="Not found", text=str(exc), status=404)
    except InvalidInput as exc:
        return message(request, staff, title="Already decided", text=str(exc), status=409)
    return RedirectResponse("/erasures?done=refused", status_code=303)
