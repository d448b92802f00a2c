"""The families' registration form (/people/new), no sign-in: a missing person, or a found person
looking for their family. Thin, like /report: read within limits, check CSRF and the nonce, keep
photos in quarantine, resolve the place offline, hand a CaseDraft to core.cases.registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError

from core.cases.registry import CaseDraft, CaseProblem, NewCasePhoto, submit_case
from core.errors import InvalidInput
from core.i18n import SUPPORTED, Texts
from core.tips.drafts import MAX_ATTACHMENTS, Attachment, DraftPlace
from core.tips.places import resolve_typed
from core.tips.web_intake import AS_TYPED, MAX_PHOTO_BYTES, Problem, judge_photos, quarantine
from web import csrf
from web.public.abuse import over_limit
from web.public.case_fields import CaseForm, read_case_form, read_photo_age
from web.public.forms import Refusal, pick_language, read_public_post, sign_kept
from web.public.report import HEADERS, TEMPLATES
from web.public.uploads import MAX_REQUEST_BYTES, ReceivedForm

if TYPE_CHECKING:
    from web.app import WebContext

router = APIRouter(include_in_schema=False)
MB = 1024 * 1024


def _context(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


def _page(
    request: Request, template: str, *, lang: str, status: int = 200, **values: Any
) -> HTMLResponse:
    cookie = csrf.cookie_value(request)
    values |= {
        "t": Texts(lang),
        "lang": lang,
        "languages": [(code, Texts(code)("web.lang.name")) for code in SUPPORTED],
        "csrf_token": csrf.token_for(_context(request).secret, cookie),
        "here": "/people/new",
    }
    response = TEMPLATES.TemplateResponse(
        request, template, values, status_code=status, headers=HEADERS
    )
    csrf.set_cookie(response, request, cookie)
    return response


@dataclass(frozen=True, slots=True)
class _Sent:
    """A POST that passed the CSRF, nonce and size checks."""

    received: ReceivedForm
    lang: str
    nonce: str
    source_key: str
    kept: list[Attachment]
    form: CaseForm


def _form_page(
    request: Request,
    sent: _Sent | None,
    *,
    lang: str,
    status: int = 200,
    problems: list[Problem] | None = None,
    choices: list[str] | None = None,
    kept: list[Attachment] | None = None,
) -> HTMLResponse:
    texts, secret = Texts(lang), _context(request).secret
    return _page(
        request,
        "people_new.html",
        lang=lang,
        status=status,
        form=sent.form if sent else CaseForm(),
        nonce=sent.nonce if sent else csrf.new_nonce(secret),
        place_choice=sent.received.get("place_choice") if sent else "",
        problems=[texts(p.key, **p.values) for p in problems or []],
        choices=choices or [],
        as_typed=AS_TYPED,
        kept=sign_kept(secret, kept),
        max_photos=MAX_ATTACHMENTS,
        file_mb=MAX_PHOTO_BYTES // MB,
        total_mb=MAX_REQUEST_BYTES // MB,
    )


@router.get("/people/new", response_class=HTMLResponse)
async def people_new(request: Request) -> HTMLResponse:
    """The empty registration form."""
    return _form_page(request, None, lang=pick_language(request))


@router.post("/people/new", response_class=HTMLResponse)
async def people_new_submit(request: Request) -> HTMLResponse:
    """Register the case once per form; nothing is public until a moderator verifies it."""
    sent = await _sent(request)
    if isinstance(sent, HTMLResponse):
        return sent
    photos, problems = judge_photos(sent.received.files, already=len(sent.kept))
    if sent.received.too_large or problems:
        status = 413 if sent.received.too_large else 400
        too_large = Problem("web.error.too_large", {"limit_mb": MAX_REQUEST_BYTES // MB})
        shown = [too_large] if sent.received.too_large else problems
        return _form_page(
            request, sent, lang=sent.lang, status=status, problems=shown, kept=sent.kept
        )
    store = _context(request).photo_stores().quarantine
    try:
        fresh = await asyncio.to_thread(quarantine, store, photos)
    except OSError:  # the media disk is full or failing: keep what was typed, ask to retry
        shown = [Problem("web.error.unavailable"), Problem("web.error.photos_again")]
        return _form_page(request, sent, lang=sent.lang, status=503, problems=shown, kept=sent.kept)
    kept = list({a.source_ref: a for a in sent.kept + fresh}.values())
    return await _register(request, sent, kept)


async def _register(request: Request, sent: _Sent, kept: list[Attachment]) -> HTMLResponse:
    page = _form_page
    place, choices = await _place(request, sent)
    if choices:
        return page(request, sent, lang=sent.lang, choices=choices, kept=kept)
    form = sent.form
    values, problems = read_case_form(form, zone=place.timezone if place else None)
    age_months, taken_on, age_problems = read_photo_age(form)
    if kept:
        problems += age_problems
    if problems:
        return page(request, sent, lang=sent.lang, status=400, problems=problems, kept=kept)
    if place is not None:
        values |= {"last_seen_lat": place.lat, "last_seen_lon": place.lon}
        values["last_seen_place"] = place.label or place.text
    photos = tuple(
        NewCasePhoto(source_ref=a.source_ref, age_months=age_months, taken_on=taken_on)
        for a in kept
    )
    try:
        async with _context(request).sessions() as session:
            case = await submit_case(
                session,
                draft=CaseDraft(**values, photos=photos),
                vault=_vault(request),
                channel="web",
                source_key=sent.source_key,
            )
    except InvalidInput as exc:
        detail = exc.render(sent.lang) if isinstance(exc, CaseProblem) else str(exc)
        problem = Problem("cases.form.error.other", {"detail": detail})
        return page(request, sent, lang=sent.lang, status=400, problems=[problem], kept=kept)
    except (SQLAlchemyError, OSError):
        problem = Problem("web.error.unavailable")
        return page(request, sent, lang=sent.lang, status=503, problems=[problem], kept=kept)
    return _page(request, "people_new_done.html", lang=sent.lang, ref=case.ref, kind=case.kind)


def _vault(request: Request) -> Any:
    vault = _context(request).vault
    if vault is None:
        raise OSError("the vault is not configured")  # shown as "unavailable, try later"
    return vault


async def _place(request: Request, sent: _Sent) -> tuple[DraftPlace | None, list[str]]:
    """The typed last-seen place resolved offline, or the choices to ask about."""
    typed = sent.form.last_seen_place.strip()
    if not typed:
        return None, []
    choice = sent.received.get("place_choice")
    if choice == AS_TYPED:
        return DraftPlace(source="typed", text=typed), []
    resolution = await resolve_typed(_context(request).geocoder, typed)
    chosen = next((c for c in resolution.choices if c.label == choice), None)
    if chosen is None and resolution.ambiguous:
        return None, [c.label for c in resolution.choices if c.label]
    return chosen or resolution.best or DraftPlace(source="typed", text=typed), []


async def _sent(request: Request) -> _Sent | HTMLResponse:
    """Read and authenticate a POST; a refusal page when it cannot be taken further."""
    limited = await over_limit(request, form="people/new", lang=pick_language(request))
    if limited is not None:
        return limited
    post = await read_public_post(request, secret=_context(request).secret)
    if isinstance(post, Refusal):
        return _refused(request, lang=post.lang, reason=post.reason, status=post.status)
    form = CaseForm.read(post.received.get)
    # The public form has no coordinate boxes: a place is typed and resolved here.
    form = replace(form, lat="", lon="")
    key = f"people:{post.source_key}"
    return _Sent(post.received, post.lang, post.nonce, key, post.kept, form)


def _refused(request: Request, *, lang: str, reason: str, status: int) -> HTMLResponse:
    return _page(request, "report_refused.html", lang=lang, status=status, reason=reason)
