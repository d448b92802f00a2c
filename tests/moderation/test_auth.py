"""Sign-in: password then TOTP, a code never twice, sessions expire, throttling is per account."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from core.errors import InvalidInput, RateLimited
from core.identity.vault import Vault
from core.limits import SIGN_IN_BACKOFF, MemoryRateLimiter, account_key
from moderation.staff.auth import begin_sign_in, finish_sign_in, resolve, seal_totp, sign_out
from moderation.staff.invites import accept_invite, first_admin_invite, new_totp_secret, open_invite
from storage.models import AuditEvent, StaffSession
from storage.types import utcnow
from tests.moderation import factories

PASSWORD = "a long test passphrase"


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


async def _user_with_totp(session, vault, email="mod@example.org"):
    user = await factories.staff(session, email=email)
    secret = new_totp_secret()
    user.totp_secret = seal_totp(vault, secret)
    await session.commit()
    return user, pyotp.TOTP(secret)


async def test_password_then_totp_gives_a_fresh_session(sessions, vault):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        user, totp = await _user_with_totp(session, vault)
        pending = await begin_sign_in(
            session, email="MOD@example.org", password=PASSWORD, address="10.0.0.1", limiter=limiter
        )
        assert await resolve(session, token=pending.token) is None  # not signed in yet
        signed = await finish_sign_in(
            session,
            vault,
            pending_token=pending.token,
            code=totp.now(),
            address="10.0.0.1",
            limiter=limiter,
        )
        assert signed.token != pending.token
        assert (await resolve(session, token=signed.token)).id == user.id
        await sign_out(session, token=signed.token)
        assert await resolve(session, token=signed.token) is None
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "signin" in actions


async def test_a_totp_code_is_refused_the_second_time(sessions, vault):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        _, totp = await _user_with_totp(session, vault)
        code = totp.now()
        for attempt in range(2):
            pending = await begin_sign_in(
                session, email="mod@example.org", password=PASSWORD, address="a", limiter=limiter
            )
            if attempt == 0:
                await finish_sign_in(
                    session,
                    vault,
                    pending_token=pending.token,
                    code=code,
                    address="a",
                    limiter=limiter,
                )
            else:
                with pytest.raises(InvalidInput):
                    await finish_sign_in(
                        session,
                        vault,
                        pending_token=pending.token,
                        code=code,
                        address="a",
                        limiter=limiter,
                    )


async def test_wrong_password_and_unknown_email_look_the_same_and_are_audited(sessions, vault):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        await _user_with_totp(session, vault)
        with pytest.raises(InvalidInput) as wrong:
            await begin_sign_in(
                session, email="mod@example.org", password="nope", address="a", limiter=limiter
            )
        with pytest.raises(InvalidInput) as unknown:
            await begin_sign_in(
                session, email="who@example.org", password="nope", address="a", limiter=limiter
            )
        assert str(wrong.value) == str(unknown.value)
        failures = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "signin.failed"))
        ).all()
    assert len(failures) == 2


async def test_failures_from_one_address_back_the_account_off_everywhere_but_not_for_good(
    sessions, vault
):
    clock = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: clock[0])
    async with sessions() as session:
        await _user_with_totp(session, vault)
        for _ in range(5):
            clock[0] += 10  # past each back-off: the 4th failure earns 2 s, the 5th 4 s
            with pytest.raises(InvalidInput):
                await begin_sign_in(
                    session,
                    email="mod@example.org",
                    password="bad",
                    address="attacker",
                    limiter=limiter,
                )
        # Another address does not escape the account's back-off (many addresses, one guesser).
        with pytest.raises(RateLimited, match="this account"):
            await begin_sign_in(
                session,
                email="mod@example.org",
                password=PASSWORD,
                address="office",
                limiter=limiter,
            )
        clock[0] += 5  # the back-off after 5 failures is 4 s
        with pytest.raises(RateLimited):
            await begin_sign_in(
                session,
                email="mod@example.org",
                password=PASSWORD,
                address="attacker",
                limiter=limiter,
            )
        ok = await begin_sign_in(
            session, email="mod@example.org", password=PASSWORD, address="office", limiter=limiter
        )
        assert ok.token


async def test_the_back_off_is_capped_however_many_addresses_fail(sessions, vault):
    clock = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: clock[0])
    async with sessions() as session:
        await _user_with_totp(session, vault)
        for attempt in range(40):
            clock[0] += SIGN_IN_BACKOFF.cap  # each guess waits out the back-off, from a new address
            with pytest.raises(InvalidInput):
                await begin_sign_in(
                    session,
                    email="mod@example.org",
                    password="bad",
                    address=f"bot-{attempt}",
                    limiter=limiter,
                )
        assert await limiter.backoff_wait(account_key("mod@example.org")) <= SIGN_IN_BACKOFF.cap
        clock[0] += SIGN_IN_BACKOFF.cap
        ok = await begin_sign_in(
            session, email="mod@example.org", password=PASSWORD, address="office", limiter=limiter
        )
        assert ok.token


async def test_idle_session_expires(sessions, vault):
    limiter = MemoryRateLimiter()
    async with sessions() as session:
        _, totp = await _user_with_totp(session, vault)
        pending = await begin_sign_in(
            session, email="mod@example.org", password=PASSWORD, address="a", limiter=limiter
        )
        signed = await finish_sign_in(
            session,
            vault,
            pending_token=pending.token,
            code=totp.now(),
            address="a",
            limiter=limiter,
        )
        await session.execute(
            update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=31))
        )
        await session.commit()
        assert await resolve(session, token=signed.token) is None


async def test_first_admin_set_up_link_is_one_time_and_needs_a_working_authenticator(
    sessions, vault
):
    async with sessions() as session:
        token = await first_admin_invite(session)
        assert token is not None
        secret = new_totp_secret()
        with pytest.raises(InvalidInput, match="code does not match"):
            await accept_invite(
                session,
                vault,
                token=token,
                email="admin@example.org",
                password=PASSWORD,
                totp_secret=secret,
                code="000000",
            )
        enrolled = await accept_invite(
            session,
            vault,
            token=token,
            email="admin@example.org",
            password=PASSWORD,
            totp_secret=secret,
            code=pyotp.TOTP(secret).now(),
        )
        user = enrolled.user
        assert user.role == "admin" and user.totp_secret and b"admin" not in user.totp_secret
        assert len(enrolled.recovery_codes) == 10 and len(set(enrolled.recovery_codes)) == 10
        with pytest.raises(InvalidInput, match="already been used"):
            await open_invite(session, token=token)
        assert await first_admin_invite(session) is None
