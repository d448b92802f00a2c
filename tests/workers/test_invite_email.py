"""Staff invitations by e-mail, through the relay to a real SMTP server (aiosmtpd) on 127.0.0.1:
the link arrives, the outbox row never holds it in clear, a revoked invitation is not sent.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.identity.vault import Vault
from moderation.staff.accounts import revoke_invite
from moderation.staff.invites import InviteMail, create_invite
from storage.models import OutboxMessage
from tests.moderation import factories
from tests.workers.test_email import SENDER, mailbox, relay_for, settle, stores  # noqa: F401
from workers.email import EmailSender

BASE = "https://tips.example.org"


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


def _sender(sessions, stores, port: int, vault: Vault) -> EmailSender:  # noqa: F811
    return EmailSender(
        sessions=sessions,
        stores=stores,
        installation=b"i" * 32,
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        starttls=False,
        timeout=5,
        vault=vault,
    )


async def test_an_invitation_is_e_mailed_with_its_link_sealed_at_rest(
    sessions,
    stores,  # noqa: F811
    mailbox,  # noqa: F811
    vault,
):
    box, port = mailbox
    async with sessions() as session:
        admin = await factories.staff(session, "admin", "boss@example.org")
        new = await create_invite(
            session,
            role="moderator",
            email="mod@example.org",
            created_by=admin,
            reason="new volunteer",
            mail=InviteMail(vault, BASE),
        )
    async with sessions() as session:
        (row,) = (await session.scalars(select(OutboxMessage))).all()
    assert row.recipient == "email:mod@example.org"
    assert new.token not in str(row.payload)  # a database reader cannot take the link

    done = await settle(
        sessions, relay_for(sessions, {"email": _sender(sessions, stores, port, vault)})
    )
    assert [r.status for r in done] == ["sent"]
    (message,) = box.accepted
    assert message["To"] == "mod@example.org"
    assert "join Tipline as moderator" in message["Subject"]
    assert f"{BASE}/setup/{new.token}" in message.get_content()


async def test_an_invitation_revoked_before_the_e_mail_goes_out_is_not_sent(
    sessions,
    stores,  # noqa: F811
    mailbox,  # noqa: F811
    vault,
):
    box, port = mailbox
    async with sessions() as session:
        admin = await factories.staff(session, "admin", "boss@example.org")
        new = await create_invite(
            session,
            role="moderator",
            email="mod@example.org",
            created_by=admin,
            mail=InviteMail(vault, BASE),
        )
        await revoke_invite(session, actor=admin, invite_id=new.invite.id, reason="wrong person")
    done = await settle(
        sessions, relay_for(sessions, {"email": _sender(sessions, stores, port, vault)})
    )
    assert [r.status for r in done] == ["dead"]
    assert "revoked" in (done[0].last_error or "")
    assert box.offered == []
