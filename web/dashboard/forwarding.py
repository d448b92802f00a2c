"""Forwarding pages: decide with a family summary, forward to the family later, a case's family
links and police recipients, and the police liaison's packets (list and ZIP download)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from core.errors import InvalidInput
from core.whatsapp.links import chat_link
from moderation.cases.families import create_family_link
from moderation.cases.scam_gate import NeedsSenior
from moderation.forwarding.forward import (
    FamilyLead,
    case_forwarding,
    forward_to_family,
    forwards_of,
    tip_forwarding,
)
from moderation.forwarding.police import download_packet
from moderation.forwarding.police_recipients import POLICE
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from moderation.review.queue import ClaimConflict
from moderation.review.tip_access import visible_tip
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)
FORWARD_OUTCOMES = (("promising", "Promising"), ("urgent", "Urgent"))
NO_STORE = {"Cache-Control": "no-store"}


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _lead(form: FormData) -> FamilyLead | None:
    """The family fields of a form; None when no summary was written (the lead waits)."""
    summary = text_field(form, "summary").strip()
    if not summary:
        return None
    photo = text_field(form, "photo").strip()
    return FamilyLead(
        summary=summary,
        coarse_place=text_field(form, "coarse_place"),
        include_photo_sha=photo or None,
        approve_flagged=text_field(form, "approve_flagged") == "yes",
    )


def _refused(
    request: Request, staff: Staff, title: str, text: str, *, back: str, status: int
) -> Response:
    return page(
        request, "dash/message.html", staff, status=status, title=title, text=text, back=back
    )


@router.get("/tips/{ref}/forward", response_class=HTMLResponse)
async def tip_page(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.decide")]
) -> Response:
    """Decide with a family summary, or forward a decided lead to the family; what went where."""
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="tip.decide")
    view = await tip_forwarding(staff.db, tip=tip)
    return page(
        request, "dash/forwarding_tip.html", staff, view=view, tip=tip, outcomes=FORWARD_OUTCOMES
    )


@router.post("/tips/{ref}/forward/decide")
async def decide_and_forward(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.decide")]
) -> Response:
    """Promising or urgent, with the family's summary: one commit with everything it sends."""
    form = await request.form()
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="tip.decide")
    back = f"/tips/{tip.ref}/forward"
    outcome = text_field(form, "outcome")
    if outcome not in dict(FORWARD_OUTCOMES):
        return _refused(
            request, staff, "Not decided", "Choose promising or urgent.", back=back, status=400
        )
    try:
        await decide(
            staff.db,
            staff=staff.user,
            tip_ref=tip.ref,
            outcome=Outcome(outcome),
            note=text_field(form, "note"),
            family=_lead(form),
        )
    except (AlreadyDecided, ClaimConflict) as exc:
        return _refused(
            request, staff, "Not decided", f"{exc}. Nothing changed.", back=back, status=409
        )
    except InvalidInput as exc:
        status = 403 if isinstance(exc, NeedsSenior) else 400
        return _refused(
            request, staff, "Not decided", f"{exc}. Nothing changed.", back=back, status=status
        )
    return RedirectResponse(back, status_code=303)


@router.post("/tips/{ref}/forward/family")
async def forward_family(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.decide")]
) -> Response:
    """Forward a promising or urgent lead to the family with the summary written here."""
    form = await request.form()
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="tip.decide")
    back = f"/tips/{tip.ref}/forward"
    lead = _lead(form)
    try:
        if lead is None:
            raise InvalidInput("write the summary the family will read")
        await forward_to_family(staff.db, staff=staff.user, tip_ref=tip.ref, lead=lead)
    except InvalidInput as exc:
        status = 403 if isinstance(exc, NeedsSenior) else 400
        return _refused(
            request, staff, "Not forwarded", f"{exc}. Nothing was sent.", back=back, status=status
        )
    return RedirectResponse(back, status_code=303)


@router.get("/tips/{ref}/packet.zip")
async def packet_zip(
    ref: str, request: Request, staff: Annotated[Staff, require("packet.download")]
) -> Response:
    """The lead's evidence packet as it stands now (packet.json, files, SHA256SUMS); audited."""
    context = web_context(request)
    stores = context.photo_stores()
    download = await download_packet(staff.db, staff=staff.user, tip_ref=ref, stores=stores)
    headers = {"Content-Disposition": f'attachment; filename="{download.filename}"', **NO_STORE}
    return Response(download.data, media_type="application/zip", headers=headers)


@router.get("/packets", response_class=HTMLResponse)
async def packets(
    request: Request, staff: Annotated[Staff, require("packet.download")]
) -> Response:
    """Leads forwarded to police, newest first, with how each delivery went."""
    rows = await forwards_of(staff.db, audience=POLICE, limit=100)
    return page(request, "dash/forwarding_packets.html", staff, rows=rows)


@router.get("/cases/{ref}/forwarding", response_class=HTMLResponse)
async def case_page(
    ref: str, request: Request, staff: Annotated[Staff, require("case.manage")]
) -> Response:
    """A case's family members and links, its police recipients, and what was forwarded."""
    view = await case_forwarding(staff.db, case_ref=ref)
    return page(request, "dash/forwarding_case.html", staff, view=view, case=view.case)


@router.post("/cases/{ref}/family-links", response_class=HTMLResponse)
async def new_family_link(
    ref: str, request: Request, staff: Annotated[Staff, require("case.manage")]
) -> Response:
    """A one-time family code, shown once on this page (never stored in clear)."""
    code = await create_family_link(staff.db, staff=staff.user, case_ref=ref)
    number = web_context(request).whatsapp_number
    whatsapp = chat_link(number, code.start_payload) if number else None
    response = page(request, "dash/forwarding_code.html", staff, code=code, whatsapp=whatsapp)
    response.headers.update(NO_STORE)
    return response
