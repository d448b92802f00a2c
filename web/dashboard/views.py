"""Rendering for the dashboard: one Jinja2 environment, the page frame, error pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from core.i18n import Texts
from core.photo_ages import age_caption
from moderation.policy import can
from web.dashboard.deps import SESSION_COOKIE, Denied, SignInRequired, Staff, web_context

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
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


def when(value: datetime | None) -> str:
    """A timestamp as staff read it everywhere: UTC, to the minute."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def hours(value: float | None) -> str:
    """A signed number of hours in words: '5.0 h later', '2.0 h before'."""
    if value is None:
        return "time unknown"
    return f"{abs(value):.1f} h {'later' if value >= 0 else 'before'}"


def urlencode_page(params: Mapping[str, str], number: int) -> str:
    """The same query string on another page of results."""
    return urlencode({**{k: v for k, v in params.items() if k != "page"}, "page": number})


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["urlencode_page"] = urlencode_page
TEMPLATES.env.filters["hours"] = hours
# "Photo at age 2" / "Age-progressed image, about age 30" under a case photo (staff read English).
TEMPLATES.env.globals["photo_caption"] = lambda photo: age_caption(
    photo.age_months, photo.kind, Texts("en")
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
