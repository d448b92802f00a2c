"""The landing page: how to report a sighting, and the active cases near a town the reader types
or near the reader's position (the browser's, or coordinates typed in).

The town or position is read from the query string, resolved in the offline gazetteer and used
for this one answer: it is never stored or logged (the access log is off), and the page is not
cached (no-store), so nothing about where a reader is stays behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from core.cases.public import NEAR_RADIUS_KM, NearbyCase, list_cases_near
from core.tips.drafts import DraftPlace
from core.tips.places import clean_typed, place_at, place_label, resolve_typed
from core.tips.web_intake import Problem, read_point
from web.public.forms import pick_language
from web.public.people import TEMPLATES, language_choices
from web.public.report import HEADERS

if TYPE_CHECKING:
    from web.app import WebContext

router = APIRouter(include_in_schema=False)
MAX_NEAR = 10
MAX_TOWN = 100
MAX_COORD = 40


@dataclass(frozen=True, slots=True)
class Near:
    """What a typed town or a position gave: the place (None: not found), the cases near it, how
    to name it to the reader, and what was wrong with a position."""

    typed: str
    place: DraftPlace | None
    cases: list[NearbyCase]
    where: str = ""
    point: bool = False
    problems: list[Problem] = field(default_factory=list)


async def _cases(context: WebContext, place: DraftPlace) -> list[NearbyCase]:
    assert place.lat is not None and place.lon is not None
    async with context.sessions() as session:
        return await list_cases_near(session, lat=place.lat, lon=place.lon, limit=MAX_NEAR)


async def _near_town(context: WebContext, typed: str, lang: str) -> Near:
    resolution = await resolve_typed(context.geocoder, typed)
    place = resolution.best
    if place is None or place.lat is None or place.lon is None:
        return Near(typed=typed, place=None, cases=[])
    where = place_label(place, lang) or typed
    return Near(typed=typed, place=place, cases=await _cases(context, place), where=where)


async def _near_point(context: WebContext, lat: str, lon: str, lang: str) -> Near:
    """Cases near a position, named by the nearest town in the gazetteer (offline)."""
    problems: list[Problem] = []
    point = read_point(lat, lon, problems)
    if point is None:
        return Near(typed="", place=None, cases=[], point=True, problems=problems)
    place = await place_at(context.geocoder, lat=point[0], lon=point[1], source="coords")
    where = place_label(place, lang) or f"{point[0]:.4f}, {point[1]:.4f}"
    cases = await _cases(context, place)
    return Near(typed="", place=place, cases=cases, where=where, point=True)


async def _near(context: WebContext, request: Request, lang: str) -> Near | None:
    query = request.query_params
    lat, lon = query.get("lat", "")[:MAX_COORD], query.get("lon", "")[:MAX_COORD]
    if lat.strip() or lon.strip():
        return await _near_point(context, lat, lon, lang)
    typed = clean_typed(query.get("town", ""))[:MAX_TOWN]
    return await _near_town(context, typed, lang) if typed else None


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request) -> HTMLResponse:
    """How to report, in the reader's language; with ?town= or ?lat=&lon=, the cases near it."""
    context: WebContext = request.app.state.context
    lang = pick_language(request)
    values = {
        "bot_mode": context.bot_mode,
        "near": await _near(context, request, lang),
        "km": int(NEAR_RADIUS_KM),
        "here": "/",
        **language_choices(lang),
    }
    headers = HEADERS | {"Cache-Control": "no-store"}
    return TEMPLATES.TemplateResponse(request, "landing.html", values, headers=headers)
