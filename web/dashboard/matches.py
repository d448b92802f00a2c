"""GET /matches and POST /matches/{id}/decide: likely links between cases, for moderators."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.cases.photo_ages import age_caption
from core.errors import InvalidInput, NotFound
from core.i18n import SUPPORTED, Texts
from moderation.cases.matches import (
    KINDS,
    STATUSES,
    MatchAlreadyDecided,
    decide_match,
    list_matches,
)
from moderation.cases.reunions import EVIDENCE, confirm_match, record_reunion, start_review
from web.dashboard.deps import Staff, require
from web.dashboard.views import page

router = APIRouter(include_in_schema=False)


def reason_words(texts: Texts, reason: dict[str, Any]) -> str:
    """One reason in words, e.g. "Nicknames alike: mimi / mimi (100%)"."""
    code = str(reason.get("code", ""))
    params = dict(reason.get("params") or {})
    if code == "sex" and params.get("sex") in ("female", "male"):
        params["sex"] = texts(f"matching.sex.{params['sex']}")
    if code == "face" and isinstance(params.get("similarity"), float | int):
        params["similarity"] = f"{params['similarity']:.0%}"
    try:
        words = texts(f"matching.reason.{code}", **params)
    except (KeyError, IndexError, ValueError):
        return code  # a reason from a newer version: its code is still better than nothing
    if code == "face" and params.get("photo"):
        words = f"{words}: {_photo_used(texts, params)}"
    return words


def _photo_used(texts: Texts, params: dict[str, Any]) -> str:
    """Which photo of the missing person the face was compared with, and the age gap."""
    kind = str(params.get("photo_kind") or "photo")
    months = params.get("photo_age_months")
    caption = age_caption(months if isinstance(months, int) else None, kind, texts)
    weight = f"{float(params.get('weight') or 1.0):.0%}"
    gap = params.get("gap_years")
    if gap is None:
        return texts(
            "matching.face_photo_no_gap", caption=caption, number=params["photo"], weight=weight
        )
    return texts(
        "matching.face_photo", caption=caption, number=params["photo"], gap=abs(gap), weight=weight
    )


def _choice(value: str | None, allowed: tuple[str, ...], default: str | None) -> str | None:
    return value if value in allowed else default


@router.get("/matches", response_class=HTMLResponse)
async def matches(request: Request, staff: Annotated[Staff, require("case.matches")]) -> Response:
    """Likely matches between cases, highest score first, both cases side by side."""
    query = request.query_params
    status = _choice(query.get("status"), STATUSES, "open") or "open"
    kind = _choice(query.get("kind"), KINDS, None)
    lang = _choice(query.get("lang"), SUPPORTED, "en") or "en"
    texts = Texts(lang)
    views = await list_matches(staff.db, staff=staff.user, status=status, kind=kind)
    return page(
        request,
        "dash/matches.html",
        staff,
        views=views,
        t=texts,
        words=lambda reason: reason_words(texts, reason),
        params={"status": status, "kind": kind or "", "lang": lang},
        statuses=STATUSES,
        kinds=KINDS,
        languages=SUPPORTED,
        decided=query.get("decided", ""),
        evidence=EVIDENCE,
    )


@router.post("/matches/{match_id}/decide")
async def decide(
    match_id: str, request: Request, staff: Annotated[Staff, require("case.matches")]
) -> Response:
    """Confirm or dismiss one match (once; audited)."""
    if not match_id.isdigit():
        raise NotFound("no such match")
    form = await request.form()
    try:
        match = await decide_match(
            staff.db,
            staff=staff.user,
            match_id=int(match_id),
            outcome=str(form.get("outcome", "")),
            note=str(form.get("note", "")),
        )
    except MatchAlreadyDecided as exc:
        return _refused(request, staff, "Already decided", f"{exc}. Nothing changed.", 409)
    except InvalidInput as exc:
        return _refused(request, staff, "Not decided", str(exc), 400)
    return RedirectResponse(f"/matches?decided={match.id}", status_code=303)


def _day(form: Any, name: str) -> date | None:
    typed = str(form.get(name, "")).strip()
    try:
        return date.fromisoformat(typed) if typed else None
    except ValueError:
        raise InvalidInput(f"'{typed[:20]}' is not a date (YYYY-MM-DD)") from None


def _match_id(match_id: str) -> int:
    if not match_id.isdigit():
        raise NotFound("no such match")
    return int(match_id)


@router.post("/matches/{match_id}/review")
async def review(
    match_id: str, request: Request, staff: Annotated[Staff, require("case.matches")]
) -> Response:
    """Take a candidate under review."""
    try:
        match = await start_review(staff.db, staff=staff.user, match_id=_match_id(match_id))
    except MatchAlreadyDecided as exc:
        return _refused(request, staff, "Already decided", f"{exc}. Nothing changed.", 409)
    return RedirectResponse(f"/matches?status=reviewing#match-{match.id}", status_code=303)


@router.post("/matches/{match_id}/confirm")
async def confirm(
    match_id: str, request: Request, staff: Annotated[Staff, require("case.confirm_match")]
) -> Response:
    """Confirm a found-match with its evidence: the case becomes found, everyone is told."""
    form = await request.form()
    try:
        match = await confirm_match(
            staff.db,
            staff=staff.user,
            match_id=_match_id(match_id),
            evidence_type=str(form.get("evidence_type", "")),
            evidence_ref=str(form.get("evidence_ref", "")),
            evidence_on=_day(form, "evidence_on"),
        )
    except MatchAlreadyDecided as exc:
        return _refused(request, staff, "Already confirmed", str(exc), 409)
    except InvalidInput as exc:
        return _refused(request, staff, "Not confirmed", f"{exc}. Nothing changed.", 400)
    return RedirectResponse(f"/matches?status=confirmed#match-{match.id}", status_code=303)


@router.post("/matches/{match_id}/reunion")
async def reunion(
    match_id: str, request: Request, staff: Annotated[Staff, require("case.confirm_match")]
) -> Response:
    """Record the reunion of a confirmed match."""
    form = await request.form()
    try:
        match = await record_reunion(
            staff.db,
            staff=staff.user,
            match_id=_match_id(match_id),
            on=_day(form, "reunion_on"),
            place=str(form.get("reunion_place", "")),
            note=str(form.get("reunion_note", "")),
            public=form.get("reunion_public") == "1",
        )
    except MatchAlreadyDecided as exc:
        return _refused(request, staff, "Already recorded", str(exc), 409)
    except InvalidInput as exc:
        return _refused(request, staff, "Not recorded", f"{exc}. Nothing changed.", 400)
    return RedirectResponse(f"/matches?status=reunited#match-{match.id}", status_code=303)


def _refused(request: Request, staff: Staff, title: str, text: str, status: int) -> Response:
    return page(
        request, "dash/message.html", staff, status=status, title=title, text=text, back="/matches"
    )
