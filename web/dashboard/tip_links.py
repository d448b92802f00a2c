"""The tip page's link to a case (a tip or its whole cluster), its unlink, and the face panel's
"same child" / "not the same" buttons. Plain HTML forms; each refusal says why and changes
nothing."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from core.errors import InvalidInput, NotFound
from moderation.review.case_links import Relinked, relink
from moderation.review.face_verdicts import judge_face
from moderation.review.queue import ClaimConflict
from storage.refs import normalise_ref
from web.dashboard.deps import Staff, require
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)


def _refused(request: Request, staff: Staff, ref: str, title: str, exc: Exception) -> Response:
    status = 409 if isinstance(exc, ClaimConflict) else 400
    text = f"{exc}." if isinstance(exc, ClaimConflict) else str(exc)
    back = f"/tips/{normalise_ref(ref)}"
    return page(
        request, "dash/message.html", staff, status=status, title=title, text=text, back=back
    )


def _done(ref: str, result: Relinked, word: str) -> RedirectResponse:
    notice = f"{word} {len(result.moved)} tip(s)"
    if result.case_ref:
        notice += f" to case {result.case_ref}"
    if result.skipped:
        notice += "; left alone: " + "; ".join(why for _, why in result.skipped)
    url = f"/tips/{normalise_ref(ref)}?notice={quote(notice)}#case"
    return RedirectResponse(url, status_code=303)


@router.post("/tips/{ref}/link")
async def link_tip(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.link")]
) -> Response:
    """Link the tip (scope=tip) or its whole cluster (scope=cluster) to the case named."""
    form = await request.form()
    return await _relink(request, staff, ref, form, case_ref=str(form.get("case_ref", "")))


@router.post("/tips/{ref}/unlink")
async def unlink_tip(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.link")]
) -> Response:
    """Unlink the tip (scope=tip) or its whole cluster (scope=cluster) from its case."""
    return await _relink(request, staff, ref, await request.form(), case_ref=None)


async def _relink(
    request: Request, staff: Staff, ref: str, form: FormData, *, case_ref: str | None
) -> Response:
    verb = "Linked" if case_ref is not None else "Unlinked"
    try:
        result = await relink(
            staff.db,
            staff=staff.user,
            tip_ref=ref,
            case_ref=case_ref,
            whole_cluster=form.get("scope") == "cluster",
        )
    except (InvalidInput, NotFound, ClaimConflict) as exc:
        return _refused(request, staff, ref, f"Not {verb.lower()}", exc)
    return _done(ref, result, verb)


@router.post("/tips/{ref}/faces")
async def judge_face_match(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.face_verdict")]
) -> Response:
    """Same child (links the tip to the case) or not the same, once per tip and case."""
    form = await request.form()
    try:
        await judge_face(
            staff.db,
            staff=staff.user,
            tip_ref=ref,
            case_ref=str(form.get("case_ref", "")),
            verdict=str(form.get("verdict", "")),
        )
    except (InvalidInput, NotFound, ClaimConflict) as exc:
        return _refused(request, staff, ref, "Not recorded", exc)
    return RedirectResponse(f"/tips/{normalise_ref(ref)}#faces", status_code=303)
