"""The landing page: how to report a sighting, and the active cases near a town the reader types.

The town is read from the query string, looked up in the offline gazetteer and used for this one
answer: it is never stored or logged, and the page is not cached (no-store), so nothing about
where a reader is stays behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core.cases import NEAR_RADIUS_KM, NearbyCase, list_cases_near
from core.places import DraftPlace, clean_typed, resolve_typed
from web.people import TEMPLATES, language_choices
from web.public_forms import pick_language
from web.report import HEADERS

if TYPE_CHECKING:
    from web.app import WebContext

router = APIRouter(include_in_schema=False)
MAX_NEAR = 10
MAX_TOWN = 100


@dataclass(frozen=True, slots=True)
class Near:
    """What a typed town gave: the place (None: not found) and the cases near it."""

    typed: str
    place: DraftPlace | None
    cases: list[NearbyCase]


async def _near(context: WebContext, typed: str) -> Near:
    resolution = await resolve_typed(context.geocoder, typed)
    place = resolution.best
    if place is None or place.lat is None or place.lon is None:
        return Near(typed=typed, place=None, cases=[])
    async with context.sessions() as session:
        cases = await list_cases_near(session, lat=place.lat, lon=place.lon, limit=MAX_NEAR)
    return Near(typed=typed, place=place, cases=cases)


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    """How to report, in the reader's language; with ?town=, the active cases near it."""
    context: WebContext = request.app.state.context
    lang = pick_language(request)
    typed = clean_typed(request.query_params.get("town", ""))[:MAX_TOWN]
    near = await _near(context, typed) if typed else None
    values = {
        "bot_mode": context.bot_mode,
        "near": near,
        "km": int(NEAR_RADIUS_KM),
        "here": "/",
        **language_choices(lang),
    }
    headers = HEADERS | {"Cache-Control": "no-store"}
    return TEMPLATES.TemplateResponse(request, "landing.html", values, headers=headers)
