"""Dashboard dependencies: one DB session per request, the signed-in staff member, the policy.

Every dashboard route declares exactly ONE action of moderation.policy.POLICY with
`Depends(require("tip.decide"))`. The dependency signs the caller in from the session cookie,
refuses (403, audited as access.denied) a role the policy does not allow, and checks the CSRF
token of every unsafe request. `route_actions(app)` reads the declarations back: the policy
tests are generated from it.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from moderation.policy import POLICY, can
from moderation.review.answers import count_answers_for
from moderation.review.tip_access import record_denied
from moderation.staff.auth import resolve
from storage.models import StaffUser
from web import csrf
from web.public.abuse import client_address

if TYPE_CHECKING:
    from web.app import WebContext

SESSION_COOKIE = "tipline_staff"
SIGNIN_COOKIE = "tipline_signin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ACTIONS: dict[Callable[..., Any], str] = {}


class SignInRequired(Exception):
    """No valid session: the browser goes to /login."""


class Denied(Exception):
    """The request is refused with 403; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in staff member of this request, their session and the form token."""

    user: StaffUser
    db: AsyncSession
    csrf: str
    answers: int = 0  # tips back in the queue with an answer to this reviewer's question


def web_context(request: Request) -> WebContext:
    """The composition root's context."""
    context: WebContext = request.app.state.context
    return context


async def database(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request."""
    async with web_context(request).sessions() as session:
        yield session


Database = Annotated[AsyncSession, Depends(database)]


def address(request: Request) -> str:
    """The caller's address (behind a trusted proxy, its client's), for throttling and audit."""
    return client_address(request, web_context(request).form_limits.trusted_proxies)


def staff_csrf(secret: bytes, token: str) -> str:
    """The form token of a signed-in session (bound to it: useless with any other session)."""
    return csrf.sign(secret, "staff-csrf", token)


def secure_cookies(request: Request) -> bool:
    """Secure cookies over HTTPS, or whenever the public address is HTTPS."""
    public = web_context(request).public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, path: str) -> None:
    """An HttpOnly, SameSite=Strict cookie (Secure over HTTPS) for the whole browser session."""
    response.set_cookie(
        name, value, path=path, secure=secure_cookies(request), httponly=True, samesite="strict"
    )


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse an unsafe request whose form does not carry the expected token."""
    form = await request.form()
    given = form.get(csrf.FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise Denied("This form has expired or did not come from Tipline. Reload the page.")


def require(action: str) -> Any:
    """A dependency for a dashboard route allowed to the roles of one policy action."""
    if action not in POLICY:
        raise ValueError(f"{action!r} is not in moderation.policy.POLICY")

    async def signed_in(request: Request, db: Database) -> Staff:
        token = request.cookies.get(SESSION_COOKIE, "")
        user = await resolve(db, token=token) if token else None
        if user is None:
            raise SignInRequired
        if not can(user.role, action):
            await record_denied(
                db, staff=user, action=action, object_type="route", object_ref=request.url.path
            )
            raise Denied(f"Your role ({user.role}) may not do this.")
        expected = staff_csrf(web_context(request).secret, token)
        if request.method not in SAFE_METHODS:
            await check_csrf(request, expected)
        answers = (
            await count_answers_for(db, staff_id=user.id) if can(user.role, "tip.decide") else 0
        )
        return Staff(user=user, db=db, csrf=expected, answers=answers)

    _ACTIONS[signed_in] = action
    return Depends(signed_in)


def _actions_of(dependant: Dependant) -> list[str]:
    found = [_ACTIONS[dependant.call]] if dependant.call in _ACTIONS else []
    for sub in dependant.dependencies:
        found.extend(_actions_of(sub))
    return found


def route_actions(app: FastAPI) -> dict[tuple[str, str], str]:
    """(method, path) -> the policy action each dashboard route declares; checks there is one.

    Walks included routers too (FastAPI keeps them as a tree since 0.137: app.routes alone
    would show none of the dashboard's routes, and a policy test over it would pass vacuously).
    """
    registry: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        actions = _actions_of(route.dependant)
        if len(actions) > 1:
            raise ValueError(f"{context.path} declares {len(actions)} actions; give it one")
        for method in (context.methods or ()) if actions else ():
            registry[(method, context.path)] = actions[0]
    return registry
