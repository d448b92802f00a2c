"""The Staff and Account pages over HTTP: invitations shown once, enrolment from the link,
refusals that change nothing, deactivation that signs a person out at once, the /link code.

Runs on SQLite and PostgreSQL. (The whole path in a real browser is tests/browser.)
"""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import func, select

from moderation.staff.invites import first_admin_invite
from storage.models import AuditEvent, CallbackToken, StaffInvite, StaffUser
from tests.web import dashboard_world as world


@pytest.fixture
def context(engine, sessions, tmp_path):
    return world.build_context(
        engine, sessions, tmp_path / "media", public_url="https://tips.example.org"
    )


async def _post(client, signed, url: str, **data: str):
    world.use(client, signed)
    return await client.post(url, data={**data, "csrf": signed.csrf})


def _link(page: str) -> str:
    found = re.search(r'id="setup-link" class="uri">([^<]+)<', page)
    assert found, page[:2000]
    return found.group(1)


async def _enrol(client, link: str, email: str = "") -> tuple[str, str]:
    """Open a set-up link as the invitee and finish it; (recovery page, TOTP secret)."""
    world.use(client, None)
    path = link.removeprefix("https://tips.example.org")
    form = await client.get(path)
    assert form.status_code == 200, form.text[:500]
    secret = form.text.split('class="secret">')[1].split("<")[0]
    response = await client.post(
        path,
        data={
            "email": email,
            "password": world.PASSWORD,
            "code": pyotp.TOTP(secret).now(),
            "totp": world.hidden(form.text, "totp"),
            "csrf": world.hidden(form.text, "csrf"),
        },
    )
    return response.text, secret


async def test_an_admin_invites_a_moderator_who_enrols_from_the_link_shown_once(client, sessions):
    async with sessions() as session:
        admin = await world.sign_in_as(session, "admin", email="boss@example.org")
    page = await _post(
        client,
        admin,
        "/staff/invites",
        email="mod@example.org",
        role="moderator",
        hours="24",
        reason="new volunteer",
    )
    assert page.status_code == 200
    link = _link(page.text)
    assert link.startswith("https://tips.example.org/setup/")  # never the request's Host
    world.use(client, admin)
    listing = (await client.get("/staff")).text
    assert "mod@example.org" in listing and "pending" in listing
    assert link.rsplit("/", 1)[1] not in listing  # shown once, on the page that made it

    codes_page, _ = await _enrol(client, link)
    codes = re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", codes_page)
    assert len(codes) == 10 and "mod@example.org" in codes_page
    world.use(client, admin)
    listing = (await client.get("/staff")).text
    assert re.search(r"enrolled \(10 recovery codes left\)", listing)
    assert ">used<" in listing
    async with sessions() as session:
        mod = await session.scalar(select(StaffUser).where(StaffUser.email == "mod@example.org"))
        assert mod.role == "moderator" and mod.totp_secret is not None


@pytest.mark.parametrize("spoil", ["revoked", "expired", "forged"])
async def test_an_unusable_link_shows_a_clear_page_and_creates_nothing(client, sessions, spoil):
    async with sessions() as session:
        admin = await world.sign_in_as(session, "admin")
    page = await _post(
        client, admin, "/staff/invites", email="m@example.org", role="moderator", reason="new"
    )
    link = _link(page.text).removeprefix("https://tips.example.org")
    async with sessions() as session:
        invite = await session.scalar(select(StaffInvite))
        invite_id = invite.id
        if spoil == "expired":
            invite.expires_at = invite.created_at
            await session.commit()
    if spoil == "revoked":
        await _post(client, admin, f"/staff/invites/{invite_id}/revoke", reason="typo in address")
    if spoil == "forged":
        link = link[:-3] + "abc"
    world.use(client, None)
    response = await client.get(link)
    assert response.status_code == 410
    expected = {"revoked": "revoked", "expired": "expired", "forged": "not valid"}[spoil]
    assert expected in response.text and "Traceback" not in response.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(StaffUser.id))) == 1


async def test_a_deactivated_moderator_lands_on_the_sign_in_page_at_the_next_request(
    client, sessions
):
    async with sessions() as session:
        admin = await world.sign_in_as(session, "admin")
        mod = await world.sign_in_as(session, "moderator")
    world.use(client, mod)
    assert (await client.get("/queue")).status_code == 200
    done = await _post(client, admin, f"/staff/{mod.user.id}/deactivate", reason="left the group")
    assert done.status_code == 303
    world.use(client, mod)
    response = await client.get("/queue")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    world.use(client, admin)
    assert "deactivated" in (await client.get("/staff")).text


async def test_the_last_admin_removing_themselves_is_refused_and_nothing_changes(client, sessions):
    async with sessions() as session:
        admin = await world.sign_in_as(session, "admin")
    for path, data in (
        ("deactivate", {"reason": "leaving"}),
        ("role", {"role": "moderator", "reason": "stepping down"}),
    ):
        response = await _post(client, admin, f"/staff/{admin.user.id}/{path}", **data)
        assert response.status_code == 400
        assert "would leave no active admin" in response.text
    async with sessions() as session:
        user = await session.get(StaffUser, admin.user.id)
        assert (user.role, user.active) == ("admin", True)
        actions = (await session.scalars(select(AuditEvent.action))).all()
        assert actions == ["staff.refused", "staff.refused"]  # the attempts, and no change


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "m@example.org", "role": "king", "reason": "new"}, "unknown staff role"),
        ({"email": "nope", "role": "moderator", "reason": "new"}, "not an e-mail"),
        ({"email": "m@example.org", "role": "moderator", "reason": ""}, "say why"),
        ({"email": "m@example.org", "role": "moderator", "reason": "x y", "hours": "x"}, "hours"),
    ],
)
async def test_a_bad_invitation_is_refused_on_the_page(client, sessions, data, message):
    async with sessions() as session:
        admin = await world.sign_in_as(session, "admin")
    response = await _post(client, admin, "/staff/invites", **data)
    assert response.status_code == 400 and message in response.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(StaffInvite.id))) == 0
        refusal = await session.scalar(select(AuditEvent))
        assert (refusal.action, refusal.actor_id) == ("staff.refused", admin.user.id)


async def test_the_account_page_makes_a_one_time_link_code_for_the_moderators_group(
    client, sessions
):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
    page = await _post(client, mod, "/account/telegram-link")
    code = re.search(r'id="link-code">/link ([A-Z2-9]{5}-[A-Z2-9]{5})<', page.text)
    assert page.status_code == 200 and code
    async with sessions() as session:
        tokens = (await session.scalars(select(CallbackToken.action))).all()
    assert tokens == [f"staff.link:{mod.user.id}"]


async def test_the_first_admin_link_enrols_an_admin_with_recovery_codes(client, sessions):
    async with sessions() as session:
        token = await first_admin_invite(session)
    page, _ = await _enrol(client, f"/setup/{token}", email="first@example.org")
    assert "Recovery codes" in page and len(re.findall(r"<li><code>", page)) == 10
    async with sessions() as session:
        admin = await session.scalar(select(StaffUser))
    assert (admin.email, admin.role) == ("first@example.org", "admin")
