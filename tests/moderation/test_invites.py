"""Invitations and enrolment: one-time links, TOTP proven at set-up, recovery codes, approvals.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select, update

from core.errors import InvalidInput
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter
from moderation.staff.accounts import approve_invite, reset_2fa, revoke_invite
from moderation.staff.auth import begin_sign_in, finish_sign_in, resolve
from moderation.staff.invites import (
    InviteRefused,
    accept_invite,
    create_invite,
    first_admin_invite,
    new_totp_secret,
    open_invite,
)
from moderation.staff.recovery import codes_left
from storage.models import AuditEvent, StaffInvite, StaffRecoveryCode, StaffSession, StaffUser
from storage.types import utcnow
from tests.moderation import factories

PASSWORD = "a long test passphrase"


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


async def _enrol(session, vault, token, email, secret=None, code=None):
    secret = secret or new_totp_secret()
    return await accept_invite(
        session,
        vault,
        token=token,
        email=email,
        password=PASSWORD,
        totp_secret=secret,
        code=code or pyotp.TOTP(secret).now(),
    ), secret


async def _actions(session) -> list[str]:
    return list((await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all())


async def test_an_invited_moderator_enrols_with_totp_and_ten_hashed_recovery_codes(sessions, vault):
    async with sessions() as session:
        admin = await factories.staff(session, "admin", "boss@example.org")
        new = await create_invite(
            session, role="moderator", email="Mod@Example.org", created_by=admin, reason="new"
        )
        assert new.invite.email == "mod@example.org"
        assert new.invite.expires_at - utcnow() > timedelta(hours=71)
        enrolled, secret = await _enrol(session, vault, new.token, "mod@example.org")
    user = enrolled.user
    assert user.role == "moderator" and user.totp_secret is not None
    async with sessions() as session:
        hashes = (await session.scalars(select(StaffRecoveryCode.code_hash))).all()
        assert len(hashes) == 10
        assert not {c.replace("-", "") for c in enrolled.recovery_codes} & set(hashes)
        assert secret.encode() not in (await session.get(StaffUser, user.id)).totp_secret
        assert await _actions(session) == ["staff.invite", "staff.setup"]


async def test_a_recovery_code_signs_in_once_in_place_of_totp_and_is_audited(sessions, vault):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        token = await first_admin_invite(session)
        enrolled, _ = await _enrol(session, vault, token, "admin@example.org")
    code = enrolled.recovery_codes[3].lower()  # typed in lower case: still accepted

    async def sign_in(with_code: str):
        async with sessions() as session:
            pending = await begin_sign_in(
                session, email="admin@example.org", password=PASSWORD, address="a", limiter=limiter
            )
            return await finish_sign_in(
                session,
                vault,
                pending_token=pending.token,
                code=with_code,
                address="a",
                limiter=limiter,
            )

    signed = await sign_in(code)
    async with sessions() as session:
        assert await resolve(session, token=signed.token) is not None
        assert await codes_left(session, staff_id=enrolled.user.id) == 9
        assert "signin.recovery_code" in await _actions(session)
    with pytest.raises(InvalidInput, match="not recognised"):
        await sign_in(code)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("expire", "expired"),
        ("use", "already been used"),
        ("revoke", "revoked"),
        ("forge", "not valid"),
    ],
)
async def test_an_unusable_link_says_why_and_creates_nothing(sessions, vault, spoil, message):
    async with sessions() as session:
        admin = await factories.staff(session, "admin", "boss@example.org")
        new = await create_invite(
            session, role="moderator", email="m@example.org", created_by=admin, reason="x y"
        )
        token = new.token
        if spoil == "expire":
            new.invite.expires_at = utcnow() - timedelta(seconds=1)
            await session.commit()
        elif spoil == "use":
            await _enrol(session, vault, token, "m@example.org")
        elif spoil == "revoke":
            await revoke_invite(session, actor=admin, invite_id=new.invite.id, reason="typo")
        else:
            token = token[:-2] + "xx"
        before = await session.scalar(select(func.count(StaffUser.id)))
        with pytest.raises(InviteRefused, match=message):
            await _enrol(session, vault, token, "m@example.org")
        assert await session.scalar(select(func.count(StaffUser.id))) == before


@pytest.mark.parametrize(
    ("password", "code", "email", "message"),
    [
        ("short", None, "m@example.org", "at least 12"),
        ("aaaaaaaaaaaaaaaa", None, "m@example.org", "too few characters"),
        (PASSWORD, "000000", "m@example.org", "code does not match"),
        (PASSWORD, None, "other@example.org", "this set-up link is for m@example.org"),
    ],
)
async def test_bad_enrolment_input_changes_nothing_and_is_audited(
    sessions, vault, password, code, email, message
):
    async with sessions() as session:
        new = await create_invite(session, role="moderator", email="m@example.org", created_by=None)
        secret = new_totp_secret()
        with pytest.raises(InvalidInput, match=message):
            await accept_invite(
                session,
                vault,
                token=new.token,
                email=email,
                password=password,
                totp_secret=secret,
                code=code or pyotp.TOTP(secret).now(),
            )
        assert await session.scalar(select(func.count(StaffUser.id))) == 0
        assert (await open_invite(session, token=new.token)).used_at is None  # still usable
        assert (await _actions(session))[-1] == "staff.setup_failed"


async def test_two_concurrent_uses_of_one_link_make_exactly_one_account(sessions, vault):
    # The first admin's link names no e-mail: two people racing on it with two addresses.
    async with sessions() as session:
        token = await first_admin_invite(session)

    async def use(email: str) -> str:
        async with sessions() as session:
            try:
                await _enrol(session, vault, token, email)
            except InvalidInput as exc:
                return str(exc)
            return "made"

    outcomes = await asyncio.gather(use("a@example.org"), use("b@example.org"))
    assert outcomes.count("made") == 1, outcomes
    assert any("already been used" in outcome for outcome in outcomes), outcomes
    async with sessions() as session:
        assert await session.scalar(select(func.count(StaffUser.id))) == 1


async def test_a_restart_with_no_staff_leaves_one_live_first_admin_link(sessions, vault):
    async with sessions() as session:
        first = await first_admin_invite(session)
        second = await first_admin_invite(session)
        assert first and second and first != second
        with pytest.raises(InviteRefused, match="revoked"):
            await open_invite(session, token=first)
        await _enrol(session, vault, second, "admin@example.org")
        assert await first_admin_invite(session) is None
        live = await session.scalar(
            select(func.count(StaffInvite.id)).where(
                StaffInvite.used_at.is_(None), StaffInvite.revoked_at.is_(None)
            )
        )
        assert live == 0


async def test_an_admin_invitation_among_two_admins_waits_for_the_other_admin(sessions, vault):
    async with sessions() as session:
        one = await factories.staff(session, "admin", "one@example.org")
        two = await factories.staff(session, "admin", "two@example.org")
        new = await create_invite(
            session, role="admin", email="three@example.org", created_by=one, reason="board"
        )
        assert new.invite.needs_approval
        with pytest.raises(InviteRefused, match="second admin"):
            await open_invite(session, token=new.token)
        with pytest.raises(InvalidInput, match="you made the invitation"):
            await approve_invite(session, actor=one, invite_id=new.invite.id)
        await approve_invite(session, actor=two, invite_id=new.invite.id)
        enrolled, _ = await _enrol(session, vault, new.token, "three@example.org")
        assert enrolled.user.role == "admin"


async def test_a_2fa_reset_ends_sessions_and_the_fresh_link_re_enrols_the_same_account(
    sessions, vault
):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        admin = await factories.staff(session, "admin", "boss@example.org")
        new = await create_invite(session, role="moderator", email="m@example.org", created_by=None)
        enrolled, _ = await _enrol(session, vault, new.token, "m@example.org")
        session.add(StaffSession(token_hash="h" * 64, staff_id=enrolled.user.id, verified=True))
        await session.commit()
        reset = await reset_2fa(
            session, actor=admin, staff_id=enrolled.user.id, reason="lost phone"
        )
        user = await session.get(StaffUser, enrolled.user.id)
        assert user.totp_secret is None
        assert await codes_left(session, staff_id=user.id) == 0
        open_sessions = await session.scalar(
            select(func.count(StaffSession.id)).where(StaffSession.ended_at.is_(None))
        )
        assert open_sessions == 0
        # Without a second factor the old password alone gets nobody in.
        pending = await begin_sign_in(
            session, email="m@example.org", password=PASSWORD, address="a", limiter=limiter
        )
        with pytest.raises(InvalidInput):
            await finish_sign_in(
                session,
                vault,
                pending_token=pending.token,
                code=enrolled.recovery_codes[0],
                address="a",
                limiter=limiter,
            )
        again, _ = await _enrol(session, vault, reset.token, "ignored@example.org")
        assert again.user.id == enrolled.user.id and again.user.email == "m@example.org"
        assert set(again.recovery_codes).isdisjoint(enrolled.recovery_codes)
        assert await session.scalar(select(func.count(StaffUser.id))) == 2


async def test_an_invitation_for_an_existing_account_or_unknown_role_is_refused(sessions):
    async with sessions() as session:
        await factories.staff(session, "moderator", "m@example.org")
        with pytest.raises(InvalidInput, match="already has a staff account"):
            await create_invite(session, role="moderator", email="M@example.org", created_by=None)
        with pytest.raises(InvalidInput, match="unknown staff role"):
            await create_invite(session, role="king", email="k@example.org", created_by=None)
        with pytest.raises(InvalidInput, match="not a staff role"):
            await create_invite(session, role="family", email="k@example.org", created_by=None)
        await session.execute(update(StaffInvite).values(revoked_at=utcnow()))
        assert await session.scalar(select(func.count(StaffInvite.id))) == 0
