"""GET /queue (ranked, filtered), claim next, and the bulk decision on a cluster."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.errors import InvalidInput
from moderation.review.decisions import Outcome
from moderation.review.queue import OPEN_STATUSES, PAGE, QueueFilter, claim_next
from moderation.review.queue_view import decide_cluster, queue_page
from storage.repositories import TipRepository
from web.dashboard.deps import Staff, require
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)
STATUSES = (*OPEN_STATUSES, *(o.value for o in Outcome if o.value not in OPEN_STATUSES))
CHANNELS = ("telegram", "web")
REF = re.compile(r"[A-Z0-9-]{1,16}")
AREA_HELP = "area: four numbers, min lat, max lat, min lon, max lon"


def _ref(value: str | None) -> str | None:
    cleaned = (value or "").strip().upper()
    return cleaned if REF.fullmatch(cleaned) else None


def _area(text: str) -> tuple[float, float, float, float] | None:
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        return None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        return None
    return numbers[0], numbers[1], numbers[2], numbers[3]


def parse_filters(params: Mapping[str, str]) -> tuple[QueueFilter, list[str]]:
    """The queue's filters from the query string, and what could not be understood."""
    problems = []
    area = _area(params["area"]) if params.get("area") else None
    if params.get("area") and area is None:
        problems.append(AREA_HELP)
    page_number = int(params["page"]) if params.get("page", "").isdigit() else 0
    status = params.get("status") or None
    channel = params.get("channel") or None
    return (
        QueueFilter(
            case_ref=_ref(params.get("case")),
            status=status if status in STATUSES else None,
            channel=channel if channel in CHANNELS else None,
            cluster_ref=_ref(params.get("cluster")),
            area=area,
            offset=min(page_number, 1000) * PAGE,
        ),
        problems,
    )


def _notice(params: Mapping[str, str]) -> str:
    """A line about what the moderator just did (from the redirect's query string)."""
    ref, outcome = _ref(params.get("decided")), params.get("outcome", "")
    if ref and outcome in {o.value for o in Outcome}:
        return f"Tip {ref}: {outcome.replace('_', ' ')}."
    if re.fullmatch(r"\d{1,4}:\d{1,4}", params.get("bulk", "")):
        done, skipped = params["bulk"].split(":")
        return f"Cluster decided: {done} tip(s); {skipped} left alone (decided or held by others)."
    if params.get("asked") == "me":
        return "Tips whose tipster answered a question you asked."
    if params.get("empty"):
        return "Nothing left to claim: the queue is clear."
    return ""


@router.get("/queue", response_class=HTMLResponse)
async def queue(request: Request, staff: Annotated[Staff, require("queue.view")]) -> Response:
    """The ranked queue: urgent first, then by lead score; clusters as one row."""
    params = request.query_params
    filters, problems = parse_filters(params)
    if params.get("asked") == "me":  # the answers badge: answers to my own questions
        filters = dataclasses.replace(filters, asked_by=staff.user.id)
    view = await queue_page(staff.db, staff=staff.user, filters=filters)
    return page(
        request,
        "dash/queue.html",
        staff,
        view=view,
        filters=filters,
        params=params,
        problems=problems,
        notice=_notice(params),
        statuses=STATUSES,
        channels=CHANNELS,
        page_size=PAGE,
    )


@router.post("/queue/claim-next")
async def claim_next_tip(staff: Annotated[Staff, require("tip.claim")]) -> Response:
    """Claim the highest-ranked unclaimed tip and open it."""
    tip_id = await claim_next(staff.db, staff_id=staff.user.id)
    tip = await TipRepository(staff.db).get(tip_id) if tip_id is not None else None
    if tip is None:
        return RedirectResponse("/queue?empty=1", status_code=303)
    return RedirectResponse(f"/tips/{tip.ref}", status_code=303)


@router.post("/clusters/{ref}/decide")
async def decide_whole_cluster(
    ref: str, request: Request, staff: Annotated[Staff, require("tip.bulk_decide")]
) -> Response:
    """Decide every open tip of a cluster at once (each on its own, each audited)."""
    form = await request.form()
    try:
        outcome = Outcome(str(form.get("outcome", "")))
        result = await decide_cluster(
            staff.db,
            staff=staff.user,
            cluster_ref=ref,
            outcome=outcome,
            note=str(form.get("note", "")),
            duplicate_of=_ref(str(form.get("duplicate_of", ""))),
        )
    except (ValueError, InvalidInput) as exc:
        return message(request, staff, title="Not decided", text=str(exc), status=400)
    counts = f"{len(result.decided)}:{len(result.skipped)}"
    return RedirectResponse(f"/queue?bulk={counts}", status_code=303)
