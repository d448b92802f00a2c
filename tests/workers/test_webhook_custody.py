"""Evidence custody: where police packets may go.

- SSRF: webhook URLs naming 127.0.0.1, 10.0.0.1, 169.254.169.254, [::1], a name that resolves
  to loopback, and a redirect to loopback are each refused, and nothing is sent: listeners on
  127.0.0.1 and ::1 count every TCP connection, and count none.
- Two people: a recipient added by one person receives nothing until a second person approves;
  the adder cannot approve, nor can anyone approve twice.
- Bad input: a URL with credentials or without https is refused with a clear message and
  nothing is stored.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core.delivery.webhook_targets import TargetRules
from core.errors import InvalidInput
from moderation.forwarding import police_recipients
from moderation.forwarding.police_recipients import SamePerson, approve_recipient
from moderation.review.decisions import Outcome, decide
from storage.models import AuditEvent, PoliceRecipient
from tests.moderation import factories
from tests.moderation.test_forwarding import forwarding_world
from tests.workers.test_webhooks import add_webhook, relay_for, rows, sender_for, settle


@dataclass
class Listener:
    """A TCP listener that counts connections (anything sent would need one)."""

    connections: int = 0
    port: int = 0

    async def accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


async def _listen(host: str) -> tuple[Listener, asyncio.Server]:
    listener = Listener()
    server = await asyncio.start_server(listener.accepted, host, 0)
    listener.port = server.sockets[0].getsockname()[1]
    return listener, server


@pytest.fixture
async def loopback() -> AsyncIterator[dict[str, Listener]]:
    """Listeners on 127.0.0.1 and (where the machine has IPv6) ::1."""
    found, servers = {}, []
    for name, host in (("v4", "127.0.0.1"), ("v6", "::1")):
        with contextlib.suppress(OSError):
            listener, server = await _listen(host)
            found[name] = listener
            servers.append(server)
    yield found
    for server in servers:
        server.close()
        await server.wait_closed()


async def _world(session, stores):
    senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
    return senior, mod, case, tip


async def _pre_check_recipient(session, case, senior, url: str) -> None:
    """A recipient row as it could exist from before these checks (the use case refuses such
    URLs now), approved by a second person: the sender must still refuse it."""
    second = await factories.staff(session, "admin", email=f"second-{secrets.token_hex(4)}@x.org")
    session.add(
        PoliceRecipient(
            case_id=case.id,
            kind="webhook",
            address=url,
            created_by=senior.id,
            approved_by=second.id,
        )
    )
    await session.commit()


def _urls(loopback: dict[str, Listener]) -> list[str]:
    urls = ["https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/"]
    urls.append(f"https://127.0.0.1:{loopback['v4'].port}/hook")
    urls.append(f"http://127.0.0.1:{loopback['v4'].port}/hook")
    urls.append("https://[::ffff:127.0.0.1]/hook")
    if "v6" in loopback:
        urls.append(f"https://[::1]:{loopback['v6'].port}/hook")
    return urls


async def test_addresses_inside_the_network_are_refused_when_added(sessions, stores, loopback):
    async with sessions() as session:
        senior, _, case, _ = await _world(session, stores)
        for url in [*_urls(loopback), "https://[::1]/hook"]:
            with pytest.raises(InvalidInput):
                await police_recipients.add_recipient(
                    session,
                    staff=senior,
                    case_ref=case.ref,
                    kind="webhook",
                    address=url,
                    label="",
                    rules=TargetRules(),
                )
        assert await session.scalar(select(func.count()).select_from(PoliceRecipient)) == 0


async def test_addresses_inside_the_network_are_refused_at_send_time_and_nothing_is_sent(
    sessions, stores, loopback
):
    urls = _urls(loopback)
    async with sessions() as session:
        senior, mod, case, tip = await _world(session, stores)
        for url in urls:
            await _pre_check_recipient(session, case, senior, url)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
    sent = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=TargetRules()))
    )
    assert len(sent) == len(urls)
    for row in sent:
        assert (row.status, row.attempts) == ("dead", 1), row.last_error
        assert row.last_error.startswith("refused"), row.last_error
    assert [listener.connections for listener in loopback.values()] == [0] * len(loopback)


async def test_a_name_that_resolves_to_loopback_is_refused_at_send_time(sessions, stores, loopback):
    port = loopback["v4"].port
    async with sessions() as session:
        senior, mod, case, tip = await _world(session, stores)
        # A host name passes when added (its addresses can change); sending checks them.
        await add_webhook(session, senior, case, f"https://localhost:{port}/hook", TargetRules())
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=TargetRules()))
    )
    assert (row.status, row.attempts) == ("dead", 1)
    assert "private, local or reserved" in row.last_error
    assert [listener.connections for listener in loopback.values()] == [0] * len(loopback)


async def test_a_redirect_to_loopback_is_not_followed(sessions, stores, receiver, loopback):
    target = f"https://127.0.0.1:{loopback['v4'].port}/steal"
    receiver.script = [(307, {"Location": target}, 0.0)]
    async with sessions() as session:
        senior, mod, case, tip = await _world(session, stores)
        new = await add_webhook(session, senior, case, receiver.url, receiver.rules)
        receiver.secrets.append(new.secret)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert row.status == "dead" and "redirects are not followed" in row.last_error
    assert len(receiver.requests) == 1
    assert loopback["v4"].connections == 0


async def test_the_allow_list_refuses_every_other_host(sessions, stores):
    rules = TargetRules.build(allowed=["police.example.org"])
    async with sessions() as session:
        senior, _, case, _ = await _world(session, stores)
        for kind, address in [
            ("webhook", "https://evil.example.net/hook"),
            ("webhook", "https://police.example.org.evil.example.net/hook"),
            ("email", "someone@evil.example.net"),
        ]:
            with pytest.raises(InvalidInput, match="allow-list"):
                await police_recipients.add_recipient(
                    session,
                    staff=senior,
                    case_ref=case.ref,
                    kind=kind,
                    address=address,
                    label="",
                    rules=rules,
                )
        for kind, address in [
            ("webhook", "https://hooks.police.example.org/x"),
            ("email", "duty@police.example.org"),
        ]:
            await police_recipients.add_recipient(
                session,
                staff=senior,
                case_ref=case.ref,
                kind=kind,
                address=address,
                label="",
                rules=rules,
            )


# --- two people ----------------------------------------------------------------------------------


async def test_a_recipient_receives_nothing_until_a_second_person_approves_it(
    sessions, stores, receiver
):
    async with sessions() as session:
        senior, mod, case, tip = await _world(session, stores)
        new = await add_webhook(session, senior, case, receiver.url, receiver.rules, approve=False)
        receiver.secrets.append(new.secret)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        assert await rows(sessions) == []  # pending: nothing queued for it
        # The adder cannot approve it, even as an admin who also manages cases.
        with pytest.raises(SamePerson):
            await approve_recipient(
                session, staff=senior, case_ref=case.ref, recipient_id=new.recipient.id
            )
        moderator = await factories.staff(session, "moderator", email="mod2@example.org")
        with pytest.raises(PermissionError):
            await approve_recipient(
                session, staff=moderator, case_ref=case.ref, recipient_id=new.recipient.id
            )
    await settle(sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules)))
    assert receiver.requests == []
    async with sessions() as session:
        admin = await factories.staff(session, "admin", email="approver-admin@example.org")
        queued = await approve_recipient(
            session, staff=admin, case_ref=case.ref, recipient_id=new.recipient.id
        )
        with pytest.raises(InvalidInput, match="already approved"):
            await approve_recipient(
                session, staff=admin, case_ref=case.ref, recipient_id=new.recipient.id
            )
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert queued == 1
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert row.status == "sent" and len(receiver.requests) == 1 and receiver.requests[0]["signed"]
    assert actions.count("police.recipient_approved") == 1


async def test_a_removed_recipient_added_again_needs_a_new_approval(sessions, stores, receiver):
    async with sessions() as session:
        senior, _, case, _ = await _world(session, stores)
        first = await add_webhook(session, senior, case, receiver.url, receiver.rules)
        await police_recipients.deactivate_recipient(
            session, staff=senior, case_ref=case.ref, recipient_id=first.recipient.id
        )
        again = await add_webhook(
            session, senior, case, receiver.url, receiver.rules, approve=False
        )
    assert again.recipient.id == first.recipient.id
    assert again.recipient.approved_by is None
    assert again.secret != first.secret  # the old secret is not handed back


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://officer:hunter2@police.example.org/hook", "user name or password"),
        ("https://officer@police.example.org/hook", "user name or password"),
        ("http://police.example.org/hook", "https"),
        ("ftp://police.example.org/hook", "https"),
        ("javascript:alert(1)", "https"),
    ],
)
async def test_a_webhook_url_with_credentials_or_without_https_is_refused(
    sessions, stores, url, says
):
    async with sessions() as session:
        senior, _, case, _ = await _world(session, stores)
        with pytest.raises(InvalidInput, match=says):
            await police_recipients.add_recipient(
                session,
                staff=senior,
                case_ref=case.ref,
                kind="webhook",
                address=url,
                label="",
                rules=TargetRules(),
            )
        assert await session.scalar(select(func.count()).select_from(PoliceRecipient)) == 0
