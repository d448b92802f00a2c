"""Rendering for the dashboard: the page frame and error pages, in the one Jinja2 environment."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from moderation.policy import can
from web.dashboard.deps import SESSION_COOKIE, Denied, SignInRequired, Staff, web_context
from web.templating import TEMPLATES

NAV = (
    ("/queue", "Queue", "queue.view"),
    ("/cases", "Cases", "case.view"),
    ("/reveals", "Reveals", "identity.approve_reveal"),
    ("/erasures", "Erasures", "identity.request_erasure"),
    ("/scam-reports", "Scam reports", "scam_reports.view"),
    ("/imports", "Imports", "people.import"),
    ("/audit", "Audit", "audit.view"),
    ("/system/dead", "Dead letters", "system.dead_letters"),
    ("/staff", "Staff", "staff.manage"),
    ("/account", "Account", "account.self"),
)


def page(
    request: Request, template: str, staff: Staff | None, *, status: int = 200, **values: Any
) -> HTMLResponse:
    """A dashboard page with the frame's navigation, the form token and the map settings."""
    role = staff.user.role if staff else None
    values |= {
        "staff": staff.user if staff else None,
        "csrf_token": staff.csrf if staff else values.get("csrf_token", ""),
        "nav": [(href, label) for href, label, action in NAV if role and can(role, action)],
        "can": (lambda action: bool(role) and can(role or "", action)),
        "tile_url": web_context(request).map_tile_url,
        "answers_badge": staff.answers if staff else 0,
    }
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status)


def message(
    request: Request, staff: Staff | None, *, title: str, text: str, status: int
) -> HTMLResponse:
    """A page that only says something (refused, not found, already decided)."""
    return page(request, "dash/message.html", staff, status=status, title=title, text=text)


async def sign_in_required(request: Request, exc: Exception) -> RedirectResponse:
    """No valid session: to /login, and forget the stale cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def denied(request: Request, exc: Exception) -> HTMLResponse:
    """403 with the reason."""
    text = exc.message if isinstance(exc, Denied) else "Your role may not see this."
    return message(request, None, title="Not allowed", text=text, status=403)


async def not_found(request: Request, exc: Exception) -> HTMLResponse:
    """404 with the domain's message."""
    return message(request, None, title="Not found", text=str(exc), status=404)


HANDLERS: dict[type[Exception], Any] = {SignInRequired: sign_in_required, Denied: denied}
