"""Staff reached over HTTP through the product's own doors: the first-admin link `tipline run`
prints, invitations made on the Staff page, enrolment from a link, sign-in with a TOTP code.

Nothing is written to the database directly; each person ends signed in with a session of
their own (its cookie, and the form token read off a page), as `world.Signed`.
"""

from __future__ import annotations

import re
import time

import httpx
import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moderation.staff.invites import first_admin_invite
from storage.models import StaffUser
from tests.web import dashboard_world as world
from web.dashboard.deps import SESSION_COOKIE

_LINK = re.compile(r'id="setup-link" class="uri">[^<]*(/setup/[^<]+)<')


async def _enrol(client: httpx.AsyncClient, path: str, email: str) -> pyotp.TOTP:
    """Open a set-up link, take the secret into 'the app', choose the password, prove a code."""
    world.use(client, None)
    form = await client.get(path)
    assert form.status_code == 200, form.text[:500]
    totp = pyotp.TOTP(form.text.split('class="secret">')[1].split("<")[0])
    done = await client.post(
        path,
        data={
            "email": email,
            "password": world.PASSWORD,
            "code": totp.now(),
            "totp": world.hidden(form.text, "totp"),
            "csrf": world.hidden(form.text, "csrf"),
        },
    )
    assert done.status_code == 200 and "Recovery codes" in done.text, done.text[:500]
    return totp


async def _sign_in(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    totp: pyotp.TOTP,
) -> world.Signed:
    """E-mail and password, then the authenticator's next code (the enrolment one is spent)."""
    world.use(client, None)
    form = await client.get("/login")
    await client.post(
        "/login",
        data={"email": email, "password": world.PASSWORD, "csrf": world.hidden(form.text, "csrf")},
    )
    code_form = await client.get("/login/code")
    signed = await client.post(
        "/login/code",
        data={
            "code": totp.at(time.time() + totp.interval),
            "csrf": world.hidden(code_form.text, "csrf"),
        },
    )
    assert signed.status_code == 303, signed.text[:500]
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    staff_page = await client.get("/account")
    async with sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    assert user is not None
    return world.Signed(user=user, token=token, csrf=world.hidden(staff_page.text, "csrf"))


async def first_admin(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> world.Signed:
    """The first admin, from the one-time link `tipline run` prints when there is no staff."""
    async with sessions() as session:
        token = await first_admin_invite(session)
    assert token
    email = "first-admin@example.org"
    totp = await _enrol(client, f"/setup/{token}", email)
    return await _sign_in(client, sessions, email, totp)


async def invited(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    admin: world.Signed,
    *,
    email: str,
    role: str,
) -> world.Signed:
    """A person the admin invites on the Staff page, enrolled from the link and signed in."""
    world.use(client, admin)
    page = await client.post(
        "/staff/invites",
        data={
            "email": email,
            "role": role,
            "hours": "24",
            "reason": "joins the team",
            "csrf": admin.csrf,
        },
    )
    found = _LINK.search(page.text)
    assert found, page.text[:1000]
    totp = await _enrol(client, found.group(1), email)
    return await _sign_in(client, sessions, email, totp)


async def register_case(client: httpx.AsyncClient, staff: world.Signed, **fields: str) -> str:
    """A case registered on the staff form (/cases/new, its one-time nonce); its reference."""
    world.use(client, staff)
    form = await client.get("/cases/new")
    nonce = world.hidden(form.text, "nonce")
    data = {"nonce": nonce, "kind": "missing", **fields, "csrf": staff.csrf}
    created = await client.post("/cases/new", data=data)
    assert created.status_code == 303, created.text[:500]
    return str(created.headers["location"].rsplit("/", 1)[-1])
