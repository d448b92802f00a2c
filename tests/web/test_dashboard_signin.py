"""Dashboard sign-in as a browser meets it: password, then TOTP, then a fresh session cookie.

Runs on SQLite and PostgreSQL through the real app (httpx + ASGITransport).
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
from sqlalchemy import func, select

from core.limits import SIGN_IN_BACKOFF, MemoryRateLimiter
from moderation.staff.auth import seal_totp
from moderation.staff.invites import first_admin_invite, new_totp_secret
from storage.models import AuditEvent, StaffSession, StaffUser
from tests.web import dashboard_world as world
from web.app import create_app
from web.dashboard.deps import SESSION_COOKIE, SIGNIN_COOKIE

WRONG = "wrong guess number x"


async def _with_totp(sessions, context, email="mod@example.org"):
    secret = new_totp_secret()
    async with sessions() as session:
        user = await world.staff(session, "moderator", email)
        user.totp_secret = seal_totp(context.vault, secret)
        await session.commit()
    return user, pyotp.TOTP(secret)


async def _password_step(client, email="mod@example.org", password=world.PASSWORD):
    page = (await client.get("/login")).text
    return await client.post(
        "/login",
        data={"email": email, "password": password, "csrf": world.hidden(page, "csrf")},
    )


async def _code_step(client, code):
    page = (await client.get("/login/code")).text
    return await client.post("/login/code", data={"code": code, "csrf": world.hidden(page, "csrf")})


def _set_cookie(response, name):
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


async def test_password_then_totp_signs_in_with_a_new_strict_http_only_cookie(
    client, sessions, context
):
    _, totp = await _with_totp(sessions, context)
    first = await _password_step(client)
    assert first.status_code == 303 and first.headers["location"] == "/login/code"
    pending = client.cookies.get(SIGNIN_COOKIE)
    assert (await client.get("/queue")).headers["location"] == "/login"  # not signed in yet

    done = await _code_step(client, totp.now())

    assert done.status_code == 303 and done.headers["location"] == "/queue"
    cookie = _set_cookie(done, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http in this test
    token = client.cookies.get(SESSION_COOKIE)
    assert token and token != pending
    assert (await client.get("/queue")).status_code == 200
    async with sessions() as session:
        rows = (await session.scalars(select(StaffSession))).all()
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert [r.verified for r in rows if r.ended_at is None] == [True]  # the pending one ended
    assert "signin" in actions


async def test_a_totp_code_used_twice_is_refused(client, sessions, context):
    _, totp = await _with_totp(sessions, context)
    code = totp.now()
    await _password_step(client)
    assert (await _code_step(client, code)).status_code == 303
    client.cookies.clear()
    await _password_step(client)

    again = await _code_step(client, code)

    assert again.status_code == 401
    assert "not recognised" in again.text
    assert SESSION_COOKIE not in client.cookies


async def test_a_wrong_password_says_nothing_about_which_part_was_wrong(client, sessions, context):
    await _with_totp(sessions, context)
    wrong = await _password_step(client, password="not the passphrase at all")
    unknown = await _password_step(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert "e-mail, password or code not recognised" in wrong.text
    assert SIGNIN_COOKIE not in client.cookies


async def test_sign_in_backs_off_after_three_wrong_passwords(client, sessions, context):
    await _with_totp(sessions, context)
    statuses = [
        (await _password_step(client, password="wrong guess number x")).status_code
        for _ in range(6)
    ]
    # Three free tries, the fourth failure earns a wait: the next ones are refused meanwhile.
    assert statuses == [401] * 4 + [429] * 2


async def test_an_expired_session_goes_back_to_login(client, sessions):
    async with sessions() as session:
        idle = await world.sign_in_as(session, "moderator", age=timedelta(minutes=31))
    world.use(client, idle)
    response = await client.get("/queue")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    async with sessions() as session:
        row = await session.scalar(select(StaffSession))
    assert row.ended_at is not None


async def test_a_forged_session_cookie_is_refused(client, sessions):
    async with sessions() as session:
        await world.sign_in_as(session, "moderator")
    client.cookies.set(SESSION_COOKIE, "forged-token-" + "x" * 30)
    for path in ("/queue", "/cases", "/account"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"


async def test_a_login_post_without_its_csrf_token_is_refused(client, sessions, context):
    await _with_totp(sessions, context)
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "mod@example.org", "password": world.PASSWORD}
    )
    assert response.status_code == 403
    async with sessions() as session:
        assert await session.scalar(select(func.count(StaffSession.id))) == 0


async def test_sign_out_ends_the_session(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
    world.use(client, signed)
    response = await client.post("/logout", data={"csrf": signed.csrf})
    assert response.status_code == 303
    world.use(client, signed)
    assert (await client.get("/queue")).headers["location"] == "/login"


async def test_cookies_are_secure_when_the_public_address_is_https(engine, sessions, tmp_path):
    context = world.build_context(
        engine, sessions, tmp_path / "media", public_url="https://tips.example.org"
    )
    await _with_totp(sessions, context)
    async for client in world.client_for(context):
        pending = await _password_step(client)
        assert "secure" in _set_cookie(pending, SIGNIN_COOKIE).lower()


async def test_the_first_admin_sets_up_an_account_from_the_one_time_link(client, sessions, context):
    async with sessions() as session:
        token = await first_admin_invite(session)
    page = await client.get(f"/setup/{token}")
    assert page.status_code == 200
    assert "otpauth://totp/" in page.text and "<svg" in page.text
    secret = page.text.split('class="secret">')[1].split("<")[0]

    response = await client.post(
        f"/setup/{token}",
        data={
            "email": "admin@example.org",
            "password": world.PASSWORD,
            "code": pyotp.TOTP(secret).now(),
            "totp": world.hidden(page.text, "totp"),
            "csrf": world.hidden(page.text, "csrf"),
        },
    )

    assert response.status_code == 200 and "is ready" in response.text
    async with sessions() as session:
        admin = await session.scalar(select(StaffUser))
    assert admin.email == "admin@example.org" and admin.role == "admin"
    assert (await client.get(f"/setup/{token}")).status_code == 410  # used once


async def test_a_tampered_setup_secret_is_refused(client, sessions):
    async with sessions() as session:
        token = await first_admin_invite(session)
    page = (await client.get(f"/setup/{token}")).text
    mine = new_totp_secret()
    response = await client.post(
        f"/setup/{token}",
        data={
            "email": "admin@example.org",
            "password": world.PASSWORD,
            "code": pyotp.TOTP(mine).now(),
            "totp": mine + ".forged",
            "csrf": world.hidden(page, "csrf"),
        },
    )
    assert response.status_code == 403
    async with sessions() as session:
        assert await session.scalar(select(func.count(StaffUser.id))) == 0


async def _first_admin(client, sessions) -> tuple[pyotp.TOTP, list[str]]:
    """The first admin, set up from the one-time link: their authenticator and recovery codes."""
    async with sessions() as session:
        token = await first_admin_invite(session)
    page = (await client.get(f"/setup/{token}")).text
    secret = page.split('class="secret">')[1].split("<")[0]
    form = {"email": "mod@example.org", "password": world.PASSWORD, "code": ""}
    form |= {"totp": world.hidden(page, "totp"), "csrf": world.hidden(page, "csrf")}
    done = await client.post(f"/setup/{token}", data={**form, "code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([^<]+)</code></li>", done.text)
    assert done.status_code == 200 and len(codes) == 10, done.text
    client.cookies.clear()
    return pyotp.TOTP(secret), codes


async def _sign_in(client, code) -> tuple[int, int]:
    """Both steps at a new browser; the statuses (the code step is skipped when refused)."""
    client.cookies.clear()
    first = await _password_step(client)
    if first.status_code != 303:
        return first.status_code, 0
    return first.status_code, (await _code_step(client, code)).status_code


async def _wrong(client, times) -> list[int]:
    client.cookies.clear()
    return [(await _password_step(client, password=WRONG)).status_code for _ in range(times)]


async def test_four_sign_ins_in_a_row_from_one_address_all_succeed(client, sessions):
    _, codes = await _first_admin(client, sessions)
    # A recovery code each time: a TOTP code is good once per 30 s, the throttle is the point.
    assert [await _sign_in(client, code) for code in codes[:4]] == [(303, 303)] * 4
    assert (await client.get("/queue")).status_code == 200


async def test_wrong_passwords_still_back_off_after_good_sign_ins(client, sessions):
    _, codes = await _first_admin(client, sessions)
    assert [await _sign_in(client, code) for code in codes[:2]] == [(303, 303)] * 2
    # Three free failures, the fourth earns a wait: only the failures counted.
    assert await _wrong(client, 6) == [401] * 4 + [429] * 2
    wrong_code = await _sign_in(client, "0000-0000-0000-0000")
    assert wrong_code == (429, 0)


async def test_a_sign_in_resets_the_account_back_off_which_never_locks_the_owner_out(
    engine, sessions, tmp_path
):
    clock = [1000.0]
    context = world.build_context(engine, sessions, tmp_path / "media")
    context.limiter = MemoryRateLimiter(clock=lambda: clock[0])
    app = create_app(context)

    def browser(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with browser("198.51.100.7") as owner, browser("203.0.113.9") as attacker:
        _, codes = await _first_admin(owner, sessions)
        # Guesses from elsewhere back the account off, for its owner too...
        assert await _wrong(attacker, 6) == [401] * 4 + [429] * 2
        refused = await _password_step(owner)
        assert refused.status_code == 429 and "this account" in refused.text
        # ...but never for longer than the cap: then the owner signs in.
        clock[0] += SIGN_IN_BACKOFF.cap
        assert await _sign_in(owner, codes[0]) == (303, 303)
        # The sign-in forgave the account's failures: the next guesses start from none.
        assert await _wrong(attacker, 5) == [401] * 4 + [429]
