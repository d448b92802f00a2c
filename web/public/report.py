"""The public web form (/report) and status page (/status) for people without Telegram.

Thin: read the form within limits, check CSRF, hand plain values to core, render the answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError

from core.errors import NotFound
from core.i18n import SUPPORTED, Texts
from core.tips.drafts import MAX_ATTACHMENTS, MAX_TEXT, Attachment, Draft
from core.tips.submission import submit_tip, web_tip_status
from core.tips.web_intake import (
    AS_TYPED,
    MAX_PHOTO_BYTES,
    MAX_PLACE_CHARS,
    WHEN_MODES,
    Intake,
    Problem,
    ReportForm,
    judge_photos,
    prepare_draft,
    quarantine,
)
from web import csrf
from web.public.abuse import over_limit
from web.public.forms import Refusal, pick_language, read_public_post, sign_kept
from web.public.uploads import MAX_REQUEST_BYTES, ReceivedForm
from web.templating import TEMPLATES

if TYPE_CHECKING:
    from web.app import WebContext

router = APIRouter(include_in_schema=False)
MB = 1024 * 1024
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self)",
}
FORM_FIELDS = ("text", "when", "time", "date", "place", "place_choice", "lat", "lon", "case")


def _context(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


def _page(
    request: Request, template: str, *, lang: str, status: int = 200, **values: Any
) -> HTMLResponse:
    secret = _context(request).secret
    cookie = csrf.cookie_value(request)
    values |= {
        "t": Texts(lang),
        "lang": lang,
        "languages": [(code, Texts(code)("web.lang.name")) for code in SUPPORTED],
        "csrf_token": csrf.token_for(secret, cookie),
    }
    response = TEMPLATES.TemplateResponse(
        request, template, values, status_code=status, headers=HEADERS
    )
    csrf.set_cookie(response, request, cookie)
    return response


def _form_page(
    request: Request,
    *,
    lang: str,
    form: ReportForm,
    nonce: str,
    status: int = 200,
    problems: list[Problem] | None = None,
    choices: list[str] | None = None,
    kept: list[Attachment] | None = None,
) -> HTMLResponse:
    texts = Texts(lang)
    secret = _context(request).secret
    return _page(
        request,
        "report.html",
        lang=lang,
        status=status,
        here="/report",
        form=form,
        nonce=nonce,
        problems=[texts(p.key, **p.values) for p in problems or []],
        choices=choices or [],
        as_typed=AS_TYPED,
        kept=sign_kept(secret, kept),
        when_modes=WHEN_MODES,
        max_text=MAX_TEXT,
        max_place=MAX_PLACE_CHARS,
        max_photos=MAX_ATTACHMENTS,
        file_mb=MAX_PHOTO_BYTES // MB,
        total_mb=MAX_REQUEST_BYTES // MB,
    )


def _refused(request: Request, *, lang: str, reason: str, status: int) -> HTMLResponse:
    return _page(request, "report_refused.html", lang=lang, status=status, reason=reason)


@router.get("/report", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    """The empty form; ?case= pre-fills the case code from a poster."""
    form = ReportForm(case=request.query_params.get("case", "")[:40])
    nonce = csrf.new_nonce(_context(request).secret)
    return _form_page(request, lang=pick_language(request), form=form, nonce=nonce)


@dataclass(frozen=True, slots=True)
class _Submission:
    """A POSTed form that passed the CSRF, nonce and size checks."""

    received: ReceivedForm
    lang: str
    nonce: str
    source_key: str
    kept: list[Attachment]
    form: ReportForm


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> HTMLResponse:
    """Check the form, keep its photos in quarantine, submit the tip once per form."""
    context = _context(request)
    sub = await _submission(request)
    if isinstance(sub, HTMLResponse):
        return sub
    page = partial(_form_page, request, lang=sub.lang, form=sub.form, nonce=sub.nonce)
    photos, problems = judge_photos(sub.received.files, already=len(sub.kept))
    if sub.received.too_large or problems:
        status, problems = _upload_problems(sub.received, problems)
        return page(status=status, problems=problems, kept=sub.kept)
    store = context.photo_stores().quarantine
    try:
        # fsync'd writes or S3 uploads of up to 60 MB: off the event loop.
        fresh = await asyncio.to_thread(quarantine, store, photos)
    except OSError:  # the media store is full or failing: keep what was typed, ask to retry
        unavailable = [Problem("web.error.unavailable"), Problem("web.error.photos_again")]
        return page(status=503, problems=unavailable, kept=sub.kept)
    attachments = _unique(sub.kept + fresh)
    intake = await prepare_draft(sub.form, geocoder=context.geocoder, attachments=attachments)
    if intake.draft is None:
        status = 400 if intake.problems else 200
        return page(
            status=status, problems=intake.problems, choices=intake.choices, kept=attachments
        )
    try:
        async with context.sessions() as session:
            receipt = await submit_tip(
                session,
                draft=intake.draft,
                channel="web",
                source_key=sub.source_key,
                tipster_id=None,
                language=sub.lang,
            )
    except (SQLAlchemyError, OSError):
        return page(status=503, problems=[Problem("web.error.unavailable")], kept=attachments)
    summary = _summary(Texts(sub.lang), intake, intake.draft)
    return _page(request, "report_done.html", lang=sub.lang, ref=receipt.ref, summary=summary)


async def _submission(request: Request) -> _Submission | HTMLResponse:
    """Read and authenticate a POST; a refusal page when it cannot be taken further."""
    limited = await over_limit(request, form="report", lang=pick_language(request))
    if limited is not None:
        return limited
    post = await read_public_post(request, secret=_context(request).secret)
    if isinstance(post, Refusal):
        return _refused(request, lang=post.lang, reason=post.reason, status=post.status)
    form = ReportForm(**{name: post.received.get(name) for name in FORM_FIELDS})
    return _Submission(post.received, post.lang, post.nonce, post.source_key, post.kept, form)


def _upload_problems(received: ReceivedForm, problems: list[Problem]) -> tuple[int, list[Problem]]:
    """The status and problems of refused files; nothing of this send is stored then."""
    again = Problem("web.error.photos_again")
    if received.too_large:
        return 413, [Problem("web.error.too_large", {"limit_mb": MAX_REQUEST_BYTES // MB}), again]
    status = 413 if any(p.key == "web.error.photo_too_large" for p in problems) else 400
    return status, [*problems, again]


def _unique(attachments: list[Attachment]) -> list[Attachment]:
    return list({a.source_ref: a for a in attachments}.values())


def _summary(texts: Texts, intake: Intake, draft: Draft) -> list[tuple[str, str]]:
    """What we received, in the sender's words: when, where, how many photos."""
    return [
        (texts("web.done.summary.when"), _when_text(texts, draft.when, draft.seen_at, intake)),
        (texts("web.done.summary.where"), _where_text(texts, intake)),
        (texts("web.done.summary.photos"), str(len(draft.attachments))),
    ]


def _when_text(texts: Texts, when: str | None, seen_at: datetime | None, intake: Intake) -> str:
    if seen_at is None:
        return texts("web.done.summary.when_unknown")
    if intake.zone and when in ("today", "day"):
        local = seen_at.astimezone(ZoneInfo(intake.zone))
        return texts(
            "web.done.summary.when_local", time=f"{local:%Y-%m-%d %H:%M}", zone=intake.zone
        )
    if when == "now":
        return texts("web.done.summary.when_now", time=f"{seen_at.astimezone(UTC):%Y-%m-%d %H:%M}")
    return texts("web.done.summary.when_utc", time=f"{seen_at.astimezone(UTC):%Y-%m-%d %H:%M}")


def _where_text(texts: Texts, intake: Intake) -> str:
    place = intake.place
    if place is None:
        return texts("web.done.summary.where_none")
    if place.source == "coords":
        return texts(
            "web.done.summary.where_coords", lat=f"{place.lat:.5f}", lon=f"{place.lon:.5f}"
        )
    if place.label:
        return place.label
    return texts("web.done.summary.where_unresolved", place=place.text or "")


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request) -> HTMLResponse:
    """A web tip's public status by its reference: never its text, place or photos."""
    lang = pick_language(request)
    typed = request.query_params.get("ref", "").strip()[:40]
    page: dict[str, Any] = {"lang": lang, "typed": typed, "here": "/status"}
    if not typed:
        return _page(request, "status.html", **page)
    limited = await over_limit(request, form="status", lang=lang)
    if limited is not None:
        return limited
    try:
        async with _context(request).sessions() as session:
            public = await web_tip_status(session, ref=typed)
    except NotFound:
        return _page(request, "status.html", status=404, unknown=True, **page)
    except (SQLAlchemyError, OSError):
        return _page(request, "status.html", status=503, unavailable=True, **page)
    submitted = f"{public.submitted_at:%Y-%m-%d}"
    page["here"] = f"/status?ref={public.ref}"
    return _page(request, "status.html", public=public, submitted=submitted, **page)
