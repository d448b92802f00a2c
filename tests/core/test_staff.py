"""Staff accounts: argon2id hashes, validated inputs, audited creation."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from core.errors import InvalidInput
from core.staff import add_staff_user
from storage.models import AuditEvent


async def test_staff_user_is_stored_with_argon2id_hash_and_audited(sessions):
    async with sessions() as session:
        user = await add_staff_user(
            session, email="Mod@Example.org", role="moderator", password="a long passphrase"
        )
    assert user.email == "mod@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, "a long passphrase")
    async with sessions() as session:
        events = (await session.scalars(select(AuditEvent))).all()
    assert [(e.action, e.object_ref) for e in events] == [("staff.create", str(user.id))]


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("nope", "moderator", "a long passphrase", "not an e-mail"),
        ("a@b.org", "family", "a long passphrase", "not a staff role"),
        ("a@b.org", "moderator", "short", "at least 12"),
    ],
)
async def test_bad_staff_input_is_refused_and_nothing_is_stored(
    sessions, email, role, password, message
):
    async with sessions() as session:
        with pytest.raises(InvalidInput, match=message):
            await add_staff_user(session, email=email, role=role, password=password)
        assert (await session.scalars(select(AuditEvent))).all() == []
