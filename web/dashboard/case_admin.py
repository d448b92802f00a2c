"""Case administration pages over moderation.cases.lifecycle: register a case, edit it, move it
through its lifecycle, re-centre its alerts on a sighting, and see the family's sealed contact."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from core.cases.photo_ages import PHOTO
from core.cases.registry import CaseDraft, NewCasePhoto
from core.errors import InvalidInput, NotFound
from core.i18n import Texts
from core.identity.vault import Vault
from core.tips.web_intake import MAX_PHOTO_BYTES, Upload, judge_photos, quarantine
from moderation.cases.lifecycle import (
    recenter_case,
    register_case,
    transition_case,
    update_case,
    view_contact,
)
from storage.refs import normalise_ref
from storage.repositories import CaseRepository
from web import csrf
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import page
from web.public.case_fields import CaseForm, read_case_form, read_photo_age

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}
ENGLISH = Texts("en")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _vault(request: Request) -> Vault:
    vault = web_context(request).vault
    if vault is None:
        raise InvalidInput("the vault is not configured (TIPLINE_VAULT_KEY)")
    return vault


def _refused(
    request: Request, staff: Staff, text: str, back: str, *, status: int = 400
) -> Response:
    return page(
        request, "dash/message.html", staff, status=status, title="Not done", text=text, back=back
    )


def _form_page(
    request: Request,
    staff: Staff,
    template: str,
    *,
    form: CaseForm,
    problems: list[str],
    **extra: Any,
) -> Response:
    status = 400 if problems else 200
    return page(request, template, staff, status=status, form=form, problems=problems, **extra)


@router.get("/cases/new", response_class=HTMLResponse)
async def new_case_form(
    request: Request, staff: Annotated[Staff, require("case.create")]
) -> Response:
    """The staff registration form."""
    nonce = csrf.new_nonce(web_context(request).secret)
    return _form_page(
        request, staff, "dash/case_new.html", form=CaseForm(), problems=[], nonce=nonce
    )


@router.post("/cases/new", response_class=HTMLResponse)
async def new_case(request: Request, staff: Annotated[Staff, require("case.create")]) -> Response:
    """Register a case (submitted: nothing is public until a senior moderator verifies it)."""
    posted = await request.form()
    form = CaseForm.read(lambda name: _text(posted, name))
    nonce = _text(posted, "nonce")
    key = csrf.nonce_key(web_context(request).secret, nonce)
    values, problems = read_case_form(form)
    texts = [ENGLISH(p.key, **p.values) for p in problems]
    if key is None:
        texts.append("This form has expired; send it again.")
        nonce = csrf.new_nonce(web_context(request).secret)
    if texts:
        return _form_page(
            request, staff, "dash/case_new.html", form=form, problems=texts, nonce=nonce
        )
    try:
        case = await register_case(
            staff.db,
            staff=staff.user,
            draft=CaseDraft(**values),
            vault=_vault(request),
            source_key=f"staff:{key}",
        )
    except InvalidInput as exc:
        return _form_page(
            request, staff, "dash/case_new.html", form=form, problems=[str(exc)], nonce=nonce
        )
    return RedirectResponse(f"/cases/{case.ref}", status_code=303)


async def _case_or_404(staff: Staff, ref: str) -> Any:
    case = await CaseRepository(staff.db).get_by_ref(normalise_ref(ref))
    if case is None:
        raise NotFound("no such case")
    return case


@router.post("/cases/{ref}/photos", response_class=HTMLResponse)
async def add_photos(
    ref: str, request: Request, staff: Annotated[Staff, require("case.edit")]
) -> Response:
    """Add photos (ideally at different ages); they go through the sanitiser like any other."""
    case = await _case_or_404(staff, ref)
    posted = await request.form()
    uploads = [await _upload(part) for part in posted.getlist("photos") if _is_file(part)]
    photos, problems = judge_photos(uploads)
    age, taken_on, age_problems = read_photo_age(CaseForm.read(lambda name: _text(posted, name)))
    kind = _text(posted, "photo_kind") or PHOTO
    texts = [ENGLISH(p.key, **p.values) for p in problems + age_problems]
    if not uploads:
        texts.append("Choose one or more photos (JPEG, PNG, WebP or HEIC) to add.")
    if texts:
        return _refused(request, staff, " ".join(texts), f"/cases/{case.ref}")
    store = web_context(request).photo_stores().quarantine
    try:
        kept = await asyncio.to_thread(quarantine, store, photos)
    except OSError:  # the media disk or bucket is failing: nothing was added
        text = "The photo store is not answering; no photo was added. Try again in a minute."
        return _refused(request, staff, text, f"/cases/{case.ref}", status=503)
    added = tuple(
        NewCasePhoto(source_ref=a.source_ref, kind=kind, age_months=age, taken_on=taken_on)
        for a in kept
    )
    try:
        await update_case(
            staff.db,
            staff=staff.user,
            ref=case.ref,
            changes={"photos": added},
            vault=_vault(request),
        )
    except InvalidInput as exc:
        return _refused(request, staff, str(exc), f"/cases/{case.ref}")
    return RedirectResponse(f"/cases/{case.ref}?photos={len(added)}", status_code=303)


def _is_file(part: object) -> bool:
    return isinstance(part, UploadFile) and bool(part.filename)


async def _upload(part: Any) -> Upload:
    # One byte over the limit is enough to refuse it; nothing larger is held in memory.
    data = await part.read(MAX_PHOTO_BYTES + 1)
    return Upload(name=str(part.filename)[:80], data=data, size=len(data))


@router.get("/cases/{ref}/edit", response_class=HTMLResponse)
async def edit_form(
    ref: str, request: Request, staff: Annotated[Staff, require("case.edit")]
) -> Response:
    """The edit form, filled with the case's current values (never its contact)."""
    case = await _case_or_404(staff, ref)
    return _form_page(
        request, staff, "dash/case_edit.html", form=CaseForm.of_case(case), problems=[], case=case
    )


@router.post("/cases/{ref}/edit", response_class=HTMLResponse)
async def edit(
    ref: str, request: Request, staff: Annotated[Staff, require("case.edit")]
) -> Response:
    """Save the edit; a new contact is sealed, an empty one keeps the old."""
    case = await _case_or_404(staff, ref)
    posted = await request.form()
    form = CaseForm.read(lambda name: _text(posted, name))
    values, problems = read_case_form(form)
    contact = values.pop("contact")
    if contact:  # empty: the sealed contact stays as it is
        values["contact"] = contact
    texts = [ENGLISH(p.key, **p.values) for p in problems]
    if not texts:
        try:
            await update_case(
                staff.db, staff=staff.user, ref=case.ref, changes=values, vault=_vault(request)
            )
            return RedirectResponse(f"/cases/{case.ref}?edited=1", status_code=303)
        except InvalidInput as exc:
            texts = [str(exc)]
            case = await _case_or_404(staff, ref)
    return _form_page(request, staff, "dash/case_edit.html", form=form, problems=texts, case=case)


@router.post("/cases/{ref}/transition", response_class=HTMLResponse)
async def transition(
    ref: str, request: Request, staff: Annotated[Staff, require("case.transition")]
) -> Response:
    """Move the case to one of its next statuses, with a reason."""
    posted = await request.form()
    context = web_context(request)
    try:
        case = await transition_case(
            staff.db,
            staff=staff.user,
            ref=ref,
            to=_text(posted, "to"),
            reason=_text(posted, "reason"),
            policy=context.alerts,
            public_url=context.public_url or str(request.base_url),
        )
    except (InvalidInput, PermissionError) as exc:
        return _refused(request, staff, str(exc), f"/cases/{normalise_ref(ref)}")
    return RedirectResponse(f"/cases/{case.ref}", status_code=303)


@router.post("/cases/{ref}/recenter", response_class=HTMLResponse)
async def recenter(
    ref: str, request: Request, staff: Annotated[Staff, require("case.recenter")]
) -> Response:
    """Re-centre the case's alerts on a credible sighting (a tip's place and time)."""
    posted = await request.form()
    context = web_context(request)
    try:
        case = await recenter_case(
            staff.db,
            staff=staff.user,
            ref=ref,
            tip_ref=_text(posted, "tip"),
            policy=context.alerts,
        )
    except InvalidInput as exc:
        return _refused(request, staff, str(exc), f"/cases/{normalise_ref(ref)}")
    return RedirectResponse(f"/cases/{case.ref}", status_code=303)


@router.get("/cases/{ref}/contact", response_class=HTMLResponse)
async def contact(
    ref: str, request: Request, staff: Annotated[Staff, require("case.contact_view")]
) -> Response:
    """The family's contact, opened from the vault for this view only (audited, never cached)."""
    case = await _case_or_404(staff, ref)
    shown = await view_contact(staff.db, staff=staff.user, ref=case.ref, vault=_vault(request))
    response = page(
        request,
        "dash/message.html",
        staff,
        title=f"Contact for case {case.ref}",
        text=shown or "No contact was given.",
        back=f"/cases/{case.ref}",
    )
    response.headers.update(NO_STORE)
    return response
