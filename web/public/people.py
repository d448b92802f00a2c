"""Public case pages, no sign-in: /people, /people/{ref}, its photos and its poster.

Thin: ask core for the public view of a case, render it. Unknown and non-public references get
the same 404 page, so a page never tells whether an unverified case exists.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from core.cases.people import PublicPerson, get_person, list_people, photo_of
from core.cases.poster_files import PosterFiles, bot_link, cached_poster, poster_data
from core.cases.posters import PosterFontMissing, resolve_font
from core.i18n import SUPPORTED, Texts
from core.whatsapp.links import chat_link
from storage.photostore import PhotoNotFoundError, PhotoStores
from web.public.forms import pick_language
from web.public.report import HEADERS
from web.public.sharing import share_of
from web.templating import TEMPLATES

if TYPE_CHECKING:
    from web.app import WebContext

log = logging.getLogger("tipline.web.people")
router = APIRouter(include_in_schema=False)
PAGE_HEADERS = HEADERS | {"Cache-Control": "no-cache"}
# Short, so a case that stops being public (withdrawn, closed) soon leaves shared caches too.
FILE_CACHE = "public, max-age=300"
POSTER_TYPES = {"png": "image/png", "pdf": "application/pdf"}
_font_warned: set[str] = set()


def _context(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


def _stores(context: WebContext) -> PhotoStores:
    return context.photo_stores()


def language_choices(lang: str) -> dict[str, Any]:
    """What a public page's templates need for the reader's language and the switcher."""
    return {
        "t": Texts(lang),
        "lang": lang,
        "languages": [(code, Texts(code)("web.lang.name")) for code in SUPPORTED],
    }


def _page(
    request: Request, template: str, *, lang: str, status: int = 200, **values: Any
) -> HTMLResponse:
    values |= language_choices(lang)
    return TEMPLATES.TemplateResponse(
        request, template, values, status_code=status, headers=PAGE_HEADERS
    )


def _not_found(request: Request, lang: str) -> HTMLResponse:
    """The one answer for unknown and non-public references alike."""
    return _page(request, "person_missing.html", lang=lang, status=404, here="/people")


@router.get("/people", response_class=HTMLResponse)
async def people(request: Request) -> HTMLResponse:
    """Public cases, newest first, with thumbnails."""
    async with _context(request).sessions() as session:
        listed = await list_people(session)
    lang = pick_language(request)
    return _page(request, "people.html", lang=lang, here="/people", people=listed)


def _whatsapp_link(number: str | None, ref: str) -> str | None:
    """A chat with the tip line on WhatsApp, the case's code typed in (a report about it)."""
    return chat_link(number, f"case_{ref}") if number else None


@router.get("/people/{ref}", response_class=HTMLResponse)
async def person(ref: str, request: Request) -> HTMLResponse:
    """One public case: public fields, photos, how to report a sighting, the poster."""
    lang = pick_language(request)
    async with _context(request).sessions() as session:
        found = await get_person(session, ref=ref)
    if found is None:
        return _not_found(request, lang)
    context = _context(request)
    username = context.bot_username
    base = context.public_url or str(request.base_url)
    return _page(
        request,
        "person.html",
        lang=lang,
        here=f"/people/{found.ref}",
        person=found,
        bot_link=bot_link(username, found.ref) if username else None,
        whatsapp_link=_whatsapp_link(context.whatsapp_number, found.ref),
        share=share_of(found, base_url=base, texts=Texts(lang)),
    )


async def _photo(request: Request, ref: str, number: int, *, thumb: bool) -> Response:
    context = _context(request)
    async with context.sessions() as session:
        found: PublicPerson | None = await get_person(session, ref=ref)
    photo = photo_of(found, number) if found is not None else None
    if photo is None:
        return _not_found(request, pick_language(request))
    stores = _stores(context)
    store, sha = (
        (stores.thumbnails, photo.thumb_sha256) if thumb else (stores.display, photo.display_sha256)
    )
    try:
        data = await asyncio.to_thread(store.get, sha)
    except (PhotoNotFoundError, ValueError):
        return _not_found(request, pick_language(request))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": FILE_CACHE})


@router.get("/people/{ref}/photos/{number:int}.jpg")
async def person_photo(ref: str, number: int, request: Request) -> Response:
    """Our sanitised display copy of a ready photo of a public case."""
    return await _photo(request, ref, number, thumb=False)


@router.get("/people/{ref}/photos/{number:int}-thumb.jpg")
async def person_thumbnail(ref: str, number: int, request: Request) -> Response:
    """Our sanitised thumbnail of a ready photo of a public case."""
    return await _photo(request, ref, number, thumb=True)


async def _poster(request: Request, ref: str) -> PosterFiles | Response:
    context = _context(request)
    lang = pick_language(request)
    try:
        font = resolve_font(context.poster_font)
    except PosterFontMissing as missing:
        if str(missing) not in _font_warned:
            _font_warned.add(str(missing))
            log.warning("posters are off: %s", missing)
        return _page(request, "poster_unavailable.html", lang=lang, status=503, here="/people")
    async with context.sessions() as session:
        found = await poster_data(
            session,
            ref=ref,
            geocoder=context.geocoder,
            display=_stores(context).display,
            bot_username=context.bot_username or "",
            base_url=context.base_url,
        )
    if found is None:
        return _not_found(request, lang)
    data, version = found
    directory = context.media_dir / "posters"
    return await asyncio.to_thread(
        cached_poster, directory=directory, poster=data, version=version, font_path=font
    )


@router.get("/people/{ref}/poster.{kind}")
async def poster(ref: str, kind: str, request: Request) -> Response:
    """The case's A4 poster as PNG or PDF, drawn once per version of the case."""
    if kind not in POSTER_TYPES:
        return _not_found(request, pick_language(request))
    async with _context(request).sessions() as session:
        person = await get_person(session, ref=ref)
    if person is not None and person.found:
        # Gone for good: printed copies and shared links should come down (410, not 404).
        lang = pick_language(request)
        return _page(request, "poster_found.html", lang=lang, status=410, person=person)
    files = await _poster(request, ref)
    if isinstance(files, Response):
        return files
    path = files.png if kind == "png" else files.pdf
    name = f"tipline-poster-{path.stem.split('-v')[0]}.{kind}"
    return FileResponse(
        path,
        media_type=POSTER_TYPES[kind],
        filename=name,
        content_disposition_type="inline" if kind == "png" else "attachment",
        headers={"Cache-Control": FILE_CACHE},
    )
