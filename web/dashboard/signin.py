"""Sign-in (password, then TOTP), sign-out, the account page and one-time set-up links.

The forms before a session exists use the public form's CSRF scheme (web/csrf.py: a random
cookie and its HMAC in the form); the TOTP step's token is bound to the pending sign-in.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.errors import InvalidInput, RateLimited
from moderation.policy import POLICY, can
from moderation.staff.auth import begin_sign_in, finish_sign_in, resolve, sign_out
from moderation.staff.invites import (
    InviteRefused,
    accept_invite,
    new_totp_secret,
    open_invite,
    provisioning_uri,
)
from moderation.staff.links import create_link_code, unlink_telegram
from moderation.staff.recovery import codes_left
from storage.models import StaffInvite
from web import csrf
from web.dashboard.deps import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Database,
    Denied,
    Staff,
    address,
    require,
    set_cookie,
    web_context,
)
from web.dashboard.qr import qr_svg
from web.dashboard.views import message, page

router = APIRouter(include_in_schema=False)


def landing(role: str) -> str:
    """Where a staff member starts: the queue, else the cases, the audit trail, their account."""
    for path, action in (
        ("/queue", "queue.view"),
        ("/cases", "case.view"),
        ("/audit", "audit.view"),
    ):
        if can(role, action):
            return path
    return "/account"


def _public_page(request: Request, template: str, *, status: int = 200, **values: Any) -> Response:
    """A page before sign-in, with the public form's CSRF cookie and token."""
    cookie = csrf.cookie_value(request)
    token = csrf.token_for(web_context(request).secret, cookie)
    response = page(request, template, None, status=status, csrf_token=token, **values)
    csrf.set_cookie(response, request, cookie)
    return response


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v[:1024] for k, v in form.items() if isinstance(v, str)}


def _check_public_csrf(request: Request, form: dict[str, str]) -> None:
    if not csrf.is_valid(web_context(request).secret, request, form.get(csrf.FIELD, "")):
        raise Denied("This form has expired. Reload the page and try again.")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, db: Database) -> Response:
    """The e-mail and password form (straight on if already signed in)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    user = await resolve(db, token=token) if token else None
    if user is not None:
        return RedirectResponse(landing(user.role), status_code=303)
    return _public_page(request, "dash/login.html")


@router.post("/login")
async def login_submit(request: Request, db: Database) -> Response:
    """Check the password; the second factor comes next."""
    form = await _form(request)
    _check_public_csrf(request, form)
    context = web_context(request)
    email = form.get("email", "").strip()[:320]
    if context.vault is None:
        return message(
            request, None, title="Unavailable", text="Sign-in is not set up.", status=503
        )
    try:
        pending = await begin_sign_in(
            db,
            email=email,
            password=form.get("password", ""),
            address=address(request),
            limiter=context.limiter,
        )
    except (InvalidInput, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return _public_page(request, "dash/login.html", status=status, error=str(exc), email=email)
    response = RedirectResponse("/login/code", status_code=303)
    set_cookie(response, request, SIGNIN_COOKIE, pending.token, path="/login")
    return response


def _code_page(request: Request, pending: str, *, error: str = "", status: int = 200) -> Response:
    token = csrf.sign(web_context(request).secret, "signin-csrf", pending)
    return page(request, "dash/login_code.html", None, status=status, csrf_token=token, error=error)


@router.get("/login/code", response_class=HTMLResponse)
async def code_form(request: Request) -> Response:
    """The TOTP form of a sign-in whose password was right."""
    pending = request.cookies.get(SIGNIN_COOKIE, "")
    if not pending:
        return RedirectResponse("/login", status_code=303)
    return _code_page(request, pending)


@router.post("/login/code")
async def code_submit(request: Request, db: Database) -> Response:
    """Check the code; a new session token replaces the pending one."""
    pending = request.cookies.get(SIGNIN_COOKIE, "")
    form = await _form(request)
    context = web_context(request)
    expected = csrf.sign(context.secret, "signin-csrf", pending)
    if not pending or not hmac.compare_digest(form.get(csrf.FIELD, ""), expected):
        raise Denied("This form has expired. Start again at /login.")
    if context.vault is None:
        return message(
            request, None, title="Unavailable", text="Sign-in is not set up.", status=503
        )
    try:
        signed = await finish_sign_in(
            db,
            context.vault,
            pending_token=pending,
            code=form.get("code", "")[:32],
            address=address(request),
            limiter=context.limiter,
        )
    except (InvalidInput, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return _code_page(request, pending, error=str(exc), status=status)
    response = RedirectResponse(landing(signed.user.role), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, signed.token, path="/")
    response.delete_cookie(SIGNIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, staff: Annotated[Staff, require("account.self")]) -> Response:
    """End the session."""
    await sign_out(staff.db, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, staff: Annotated[Staff, require("account.self")]) -> Response:
    """Who is signed in, and what their role may do."""
    return await _account_page(request, staff)


async def _account_page(request: Request, staff: Staff, *, link_code: str = "") -> Response:
    allowed = [action for action in POLICY if can(staff.user.role, action)]
    left = await codes_left(staff.db, staff_id=staff.user.id)
    values = {"allowed": allowed, "link_code": link_code, "codes_left": left}
    return page(request, "dash/account.html", staff, **values)


@router.post("/account/telegram-link", response_class=HTMLResponse)
async def telegram_link(
    request: Request, staff: Annotated[Staff, require("account.self")]
) -> Response:
    """A one-time code (ten minutes) to send to the bot as /link CODE."""
    code = await create_link_code(staff.db, staff=staff.user)
    return await _account_page(request, staff, link_code=code)


@router.post("/account/telegram-unlink")
async def telegram_unlink(
    request: Request, staff: Annotated[Staff, require("account.self")]
) -> Response:
    """Stop a Telegram account pressing buttons for this account."""
    await unlink_telegram(staff.db, staff=staff.user)
    return RedirectResponse("/account", status_code=303)


def _setup_page(
    request: Request,
    token: str,
    secret: str,
    invite: StaffInvite,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    label = invite.email or f"new {invite.role}"
    uri = provisioning_uri(secret, label)
    signed = csrf.signed(web_context(request).secret, f"totp-setup:{token}", secret)
    values = {"secret": secret, "uri": uri, "qr": qr_svg(uri), "signed_secret": signed}
    return _public_page(
        request, "dash/setup.html", status=status, error=error, token=token, invite=invite, **values
    )


def _refused_link(request: Request, exc: InvalidInput) -> Response:
    return message(request, None, title="Link not valid", text=str(exc), status=410)


@router.get("/setup/{token}", response_class=HTMLResponse)
async def setup_form(token: str, request: Request, db: Database) -> Response:
    """A one-time set-up link: a fresh TOTP secret to add to an authenticator app."""
    try:
        invite = await open_invite(db, token=token[:100])
    except InvalidInput as exc:
        return _refused_link(request, exc)
    return _setup_page(request, token, new_totp_secret(), invite)


@router.post("/setup/{token}")
async def setup_submit(token: str, request: Request, db: Database) -> Response:
    """Enrol once the authenticator's code matches the secret shown; show the recovery codes."""
    form = await _form(request)
    _check_public_csrf(request, form)
    context = web_context(request)
    secret = csrf.unsigned(context.secret, f"totp-setup:{token}", form.get("totp", ""))
    if secret is None or context.vault is None:
        raise Denied("This set-up form was altered or has expired. Open the link again.")
    try:
        enrolled = await accept_invite(
            db,
            context.vault,
            token=token[:100],
            email=form.get("email", "").strip()[:320],
            password=form.get("password", ""),
            totp_secret=secret,
            code=form.get("code", "")[:12],
        )
    except InviteRefused as exc:
        return _refused_link(request, exc)
    except InvalidInput as exc:
        invite = await open_invite(db, token=token[:100])
        return _setup_page(request, token, secret, invite, error=str(exc), status=400)
    values = {"user": enrolled.user, "codes": enrolled.recovery_codes}
    return page(request, "dash/recovery_codes.html", None, **values)
