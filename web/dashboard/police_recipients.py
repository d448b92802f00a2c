"""A case's police recipients: add (pending), approve (someone else), rotate a secret, remove.

A webhook's secret is shown once, on the page that answers the add or the rotation, with
no-store caching; it is never stored or shown again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from core.errors import InvalidInput
from moderation.forwarding.police_recipients import (
    NewSecret,
    add_recipient,
    approve_recipient,
    deactivate_recipient,
    rotate_secret,
)
from storage.refs import normalise_ref
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.forwarding import NO_STORE, text_field
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)


def _back(ref: str) -> str:
    return f"/cases/{normalise_ref(ref)}/forwarding"


def _shown_once(request: Request, staff: Staff, ref: str, new: NewSecret) -> Response:
    if new.secret is None:
        return RedirectResponse(_back(ref), status_code=303)
    response = page(
        request,
        "dash/police_secret.html",
        staff,
        recipient=new.recipient,
        secret=new.secret,
        back=_back(ref),
    )
    response.headers.update(NO_STORE)
    return response


@router.post("/cases/{ref}/police-recipients")
async def new_recipient(
    ref: str, request: Request, staff: Annotated[Staff, require("case.manage")]
) -> Response:
    """Add an e-mail address or webhook URL; nothing goes there until someone else approves."""
    form = await request.form()
    context = web_context(request)
    try:
        new = await add_recipient(
            staff.db,
            staff=staff.user,
            case_ref=ref,
            kind=text_field(form, "kind"),
            address=text_field(form, "address"),
            label=text_field(form, "label"),
            rules=context.police_rules,
            secrets=context.webhook_secrets,
        )
    except InvalidInput as exc:
        text = f"{exc}. Nothing was added."
        return message(request, staff, title="Recipient not added", text=text, status=400)
    return _shown_once(request, staff, ref, new)


@router.post("/cases/{ref}/police-recipients/{recipient_id}/approve")
async def approve(
    ref: str,
    recipient_id: int,
    request: Request,
    staff: Annotated[Staff, require("police.recipient_approve")],
) -> Response:
    """A second person approves a pending recipient; the case's packets are then sent to it."""
    try:
        await approve_recipient(staff.db, staff=staff.user, case_ref=ref, recipient_id=recipient_id)
    except InvalidInput as exc:
        text = f"{exc}. Nothing was sent."
        return message(request, staff, title="Not approved", text=text, status=409)
    return RedirectResponse(_back(ref), status_code=303)


@router.post("/cases/{ref}/police-recipients/{recipient_id}/rotate")
async def rotate(
    ref: str, recipient_id: int, request: Request, staff: Annotated[Staff, require("case.manage")]
) -> Response:
    """A new webhook secret, shown once; the old one keeps working for 24 hours."""
    context = web_context(request)
    if context.webhook_secrets is None:
        text = "Webhook secrets need the vault key."
        return message(request, staff, title="No secret", text=text, status=503)
    try:
        new = await rotate_secret(
            staff.db,
            staff=staff.user,
            case_ref=ref,
            recipient_id=recipient_id,
            secrets=context.webhook_secrets,
        )
    except InvalidInput as exc:
        return message(request, staff, title="Not changed", text=f"{exc}.", status=409)
    return _shown_once(request, staff, ref, new)


@router.post("/cases/{ref}/police-recipients/{recipient_id}/remove")
async def remove_recipient(
    ref: str, recipient_id: int, staff: Annotated[Staff, require("case.manage")]
) -> Response:
    """Stop sending this case's packets there (deliveries not yet made are not sent)."""
    await deactivate_recipient(staff.db, staff=staff.user, case_ref=ref, recipient_id=recipient_id)
    return RedirectResponse(_back(ref), status_code=303)
