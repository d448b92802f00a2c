"""The tip page, its decision and note forms, its claim, and the authorised photo routes."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.errors import InvalidInput, NotFound
from moderation.review.decisions import AlreadyDecided, Outcome, decide
from moderation.review.notes import add_note
from moderation.review.queue import ClaimConflict, release
from moderation.review.tip_access import display_photo, original_photo, visible_tip
from moderation.review.tips_view import open_tip
from storage.photostore import PhotoNotFoundError, PhotoStore
from storage.refs import normalise_ref
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)
SHA256 = re.compile(r"[0-9a-f]{64}")
OUTCOMES = [
    ("promising", "Promising", "p"),
    ("needs_info", "Ask the tipster", "i"),
    ("duplicate", "Duplicate", "d"),
    ("not_relevant", "Not relevant", "n"),
    ("spam", "Spam", "s"),
    ("urgent", "Urgent", "u"),
]


@router.get("/tips/{ref}", response_class=HTMLResponse)
async def tip_page(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.view")]
) -> Response:
    """Everything about one tip this role may see; opening it claims it for a reviewer."""
    view = await open_tip(staff.db, staff=staff.user, ref=ref)
    return page(request, "dash/tip.html", staff, view=view, tip=view.tip, outcomes=OUTCOMES)


@router.post("/tips/{ref}/decide")
async def decide_tip(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.decide")]
) -> Response:
    """Decide once: status, audit and tipster messages commit together."""
    form = await request.form()
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="tip.decide")
    duplicate_of = normalise_ref(str(form.get("duplicate_of", ""))) or None
    back = f"/tips/{tip.ref}"
    try:
        decided = await decide(
            staff.db,
            staff=staff.user,
            tip_ref=tip.ref,
            outcome=Outcome(str(form.get("outcome", ""))),
            note=str(form.get("note", "")),
            question=str(form.get("question", "")),
            duplicate_of=duplicate_of,
        )
    except AlreadyDecided as exc:
        return _refused(
            request, staff, "Already decided", f"{exc}. Nothing changed.", back=back, status=409
        )
    except ClaimConflict as exc:
        return _refused(request, staff, "Held by a colleague", f"{exc}.", back=back, status=409)
    except (InvalidInput, ValueError) as exc:
        return _refused(request, staff, "Not decided", str(exc), back=back, status=400)
    outcome = decided.outcome.value
    return RedirectResponse(f"/queue?decided={decided.tip_ref}&outcome={outcome}", 303)


def _refused(
    request: Request, staff: Staff, title: str, text: str, *, back: str, status: int
) -> Response:
    return page(
        request, "dash/message.html", staff, status=status, title=title, text=text, back=back
    )


@router.post("/tips/{ref}/notes")
async def note_tip(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.note")]
) -> Response:
    """Keep a private note on the tip."""
    form = await request.form()
    try:
        await add_note(staff.db, staff=staff.user, tip_ref=ref, text=str(form.get("text", "")))
    except InvalidInput as exc:
        return message(request, staff, title="Note not kept", text=str(exc), status=400)
    return RedirectResponse(f"/tips/{normalise_ref(ref)}#notes", status_code=303)


@router.post("/tips/{ref}/release")
async def release_tip(ref: str, staff: Annotated[Staff, require("tip.claim")]) -> Response:
    """Give the tip back to the queue."""
    tip = await visible_tip(staff.db, staff=staff.user, ref=ref, action="tip.claim")
    await release(staff.db, tip_id=tip.id, staff_id=staff.user.id)
    return RedirectResponse("/queue", status_code=303)


def _stores(request: Request) -> tuple[PhotoStore, PhotoStore]:
    context = web_context(request)
    stores = context.photo_stores()
    return stores.display, stores.originals


async def _read(store: PhotoStore, sha: str) -> bytes:
    try:
        return await asyncio.to_thread(store.get, sha)
    except PhotoNotFoundError:
        raise NotFound("the photo file is gone (retention, or not processed yet)") from None


@router.get("/media/display/{sha}")
async def display_media(
    sha: str, request: Request, staff: Annotated[Staff, require("tip.view")]
) -> Response:
    """One of our clean display copies, for a tip (or case) the caller may see."""
    if not SHA256.fullmatch(sha):
        raise NotFound("no such photo")
    await display_photo(staff.db, staff=staff.user, sha=sha)
    data = await _read(_stores(request)[0], sha)
    return Response(data, media_type="image/jpeg")


@router.get("/media/original/{sha}")
async def original_media(
    sha: str, request: Request, staff: Annotated[Staff, require("field.original_photo")]
) -> Response:
    """An original as received (EXIF and all): a download, never shown inline; audited."""
    if not SHA256.fullmatch(sha):
        raise NotFound("no such photo")
    await original_photo(staff.db, staff=staff.user, sha=sha)
    data = await _read(_stores(request)[1], sha)
    disposition = f'attachment; filename="original-{sha[:12]}.bin"'
    headers = {"Content-Disposition": disposition}
    return Response(data, media_type="application/octet-stream", headers=headers)
