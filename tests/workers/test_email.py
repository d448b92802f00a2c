"""Police packets and on-call pages by e-mail, through the relay, to a real SMTP server (aiosmtpd)
on 127.0.0.1: attachments, a Message-ID that survives a retry, 5xx refusals parked dead with
their reason, an unreachable server retried without holding up the rest of the outbox.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import io
import json
import socket
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.delivery.outbox import enqueue, telegram_text
from core.delivery.webhook_targets import TargetRules
from moderation.forwarding.police import page_oncall
from moderation.forwarding.police_recipients import deactivate_recipient
from moderation.review.decisions import Outcome, decide
from storage.models import Forward, OutboxMessage
from storage.photostore import open_photo_stores
from tests.fakes.telegram.server import FakeTelegram
from tests.moderation.test_forwarding import add_recipient, forwarding_world
from workers.email import EmailSender, message_id
from workers.relay import Relay, Retry

INSTALLATION = b"this-installation's-key-derived-from-the-vault-key"
FAST = Retry(max_attempts=3, base=0.05, cap=0.1)
POLICE_ADDRESS = "duty@police.example.org"
SENDER = "tipline@tipline.example.org"


class Mailbox:
    """An aiosmtpd handler that keeps every DATA it was offered and answers as scripted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.offered: list[Message] = []
        self.accepted: list[Message] = []
        self.data_answers: list[str] = []  # consumed first, then "250 OK"
        self.refuse_rcpt: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.offered.append(parsed)
            answer = self.data_answers.pop(0) if self.data_answers else "250 OK"
            if answer.startswith("250"):
                self.accepted.append(parsed)
        return answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


def sender_for(
    sessions, stores, port: int, *, host: str | None = "127.0.0.1", rules=None
) -> EmailSender:
    return EmailSender(
        sessions=sessions,
        stores=stores,
        installation=INSTALLATION,
        rules=rules,
        host=host,
        port=port,
        sender=SENDER,
        starttls=False,
        timeout=5,
    )


async def rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def settle(sessions, relay: Relay, *, within: float = 20.0) -> list[OutboxMessage]:
    """Run the relay until nothing is pending or sending."""
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(within):
            while any(r.status in ("pending", "sending") for r in await rows(sessions)):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return await rows(sessions)


def relay_for(sessions, senders, **kwargs) -> Relay:
    return Relay(
        sessions=sessions, senders=senders, retry=FAST, send_timeout=10, lease=30, **kwargs
    )


async def promising_lead(sessions, stores, *, address: str = POLICE_ADDRESS, urgent=False):
    """A decided lead with one e-mail police recipient; returns (tip, police forward)."""
    async with sessions() as session:
        senior, mod, case, _, tip, photo = await forwarding_world(session, stores, recipients=False)
        await add_recipient(
            session, staff=senior, case_ref=case.ref, kind="email", address=address, label=""
        )
        outcome = Outcome.URGENT if urgent else Outcome.PROMISING
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=outcome)
        forward = await session.scalar(select(Forward).where(Forward.audience == "police"))
        return tip, forward, photo, (senior, case)


def _attachments(message: Message) -> dict[str, bytes]:
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in message.walk()
        if part.get_filename()
    }


async def _only_police_rows(sessions) -> None:
    """Drop the tipster notice so only the rows under test remain."""
    async with sessions() as session:
        for row in await session.scalars(select(OutboxMessage)):
            if not row.recipient.startswith(("police:", "email:")):
                await session.delete(row)
        await session.commit()


# --- delivery ----------------------------------------------------------------------------------


async def test_the_packet_arrives_with_its_json_and_a_zip_of_the_files(sessions, stores, mailbox):
    box, port = mailbox
    tip, forward, photo, _ = await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert (row.status, row.attempts) == ("sent", 1)
    [message] = box.accepted
    assert message["To"] == POLICE_ADDRESS and message["From"] == SENDER
    assert tip.ref in message["Subject"] and "URGENT" not in message["Subject"]
    assert message["X-Tipline-Packet"] == forward.packet["packet_id"]
    files = _attachments(message)
    assert json.loads(files["packet.json"]) == forward.packet
    archive = zipfile.ZipFile(io.BytesIO(files[f"tipline-packet-{tip.ref}.F{forward.id}.zip"]))
    original = archive.read(f"files/original/{photo.original_sha256}.jpg")
    assert hashlib.sha256(original).hexdigest() == photo.original_sha256
    display = archive.read(f"files/display/{photo.display_sha256}.jpg")
    assert hashlib.sha256(display).hexdigest() == photo.display_sha256
    assert json.loads(archive.read("packet.json")) == forward.packet
    body = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    text = (body or message).as_string()
    assert forward.packet["tipster"]["pseudonym"] in text


async def test_the_message_id_is_the_same_on_a_retry_after_a_temporary_refusal(
    sessions, stores, mailbox
):
    box, port = mailbox
    box.data_answers = ["451 4.3.0 try again later"]
    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert (row.status, row.attempts) == ("sent", 2)
    first, second = box.offered
    expected = message_id(row.idempotency_key, SENDER, installation=INSTALLATION)
    assert first["Message-ID"] == second["Message-ID"] == expected
    assert first["Message-ID"].endswith("@tipline.example.org>")
    assert len(box.accepted) == 1


def test_message_ids_differ_between_installations_and_packets():
    ours = message_id("forward:1:police:1", SENDER, installation=INSTALLATION)
    theirs = message_id("forward:1:police:1", SENDER, installation=b"another installation")
    other_packet = message_id("forward:2:police:1", SENDER, installation=INSTALLATION)
    assert len({ours, theirs, other_packet}) == 3


async def test_a_domain_off_the_allow_list_at_send_time_gets_nothing(sessions, stores, mailbox):
    box, port = mailbox
    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    narrowed = TargetRules.build(allowed=["other-police.example.net"])
    sender = sender_for(sessions, stores, port, rules=narrowed)
    [row] = await settle(sessions, relay_for(sessions, {"email": sender}))
    assert row.status == "dead" and "TIPLINE_POLICE_DOMAINS" in row.last_error
    assert box.offered == []


async def test_a_permanent_refusal_is_parked_dead_with_its_code_not_the_servers_words(
    sessions, stores, mailbox
):
    box, port = mailbox
    box.data_answers = ["554 5.7.1 message rejected by policy"]
    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert (row.status, row.attempts) == ("dead", 1)
    assert "554" in row.last_error and "rejected by policy" not in row.last_error


async def test_a_refused_recipient_is_parked_dead(sessions, stores, mailbox):
    box, port = mailbox
    box.refuse_rcpt = "550 5.1.1 no such mailbox"
    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert row.status == "dead" and "550" in row.last_error
    assert "no such mailbox" not in row.last_error


# --- failures that must not block ---------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as server:
        yield server


async def test_an_unreachable_server_is_retried_then_parked_while_other_messages_flow(
    sessions, stores, fake
):
    from bot.sender import TelegramSender
    from core.identity.vault import Vault

    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    async with sessions() as session:
        await enqueue(
            session,
            channel="telegram",
            recipient="chat:-1009",
            payload=telegram_text("staff note"),
            key="other",
        )
        await session.commit()
    bot = fake.bot()
    telegram = TelegramSender(
        bot=bot,
        vault=Vault(Vault.new_key()),
        sessions=sessions,
        display_store=stores.display,
        request_timeout=2,
    )
    closed = sender_for(sessions, stores, _free_port())
    try:
        done = await settle(sessions, relay_for(sessions, {"email": closed, "telegram": telegram}))
    finally:
        await bot.session.close()
    mail, other = done
    assert other.status == "sent" and fake.calls("sendMessage", chat_id=-1009)
    assert (mail.status, mail.attempts) == ("dead", FAST.max_attempts)
    assert mail.last_error.startswith("gave up: SMTP server unreachable")


async def test_without_an_smtp_server_configured_the_row_is_parked_with_the_reason(
    sessions, stores
):
    await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    unset = sender_for(sessions, stores, 25, host=None)
    [row] = await settle(sessions, relay_for(sessions, {"email": unset}))
    assert row.status == "dead" and "TIPLINE_SMTP_HOST" in row.last_error


async def test_a_recipient_removed_before_sending_gets_nothing(sessions, stores, mailbox):
    box, port = mailbox
    _, _, _, (senior, case) = await promising_lead(sessions, stores)
    await _only_police_rows(sessions)
    [row] = await rows(sessions)
    async with sessions() as session:
        staff = await session.get(type(senior), senior.id)
        recipient_id = int(row.recipient.partition(":")[2])
        await deactivate_recipient(
            session, staff=staff, case_ref=case.ref, recipient_id=recipient_id
        )
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert row.status == "dead" and "removed" in row.last_error
    assert box.offered == []


async def test_an_on_call_page_arrives_as_plain_text(sessions, stores, mailbox):
    box, port = mailbox
    async with sessions() as session:
        await page_oncall(session, key="p1", subject="URGENT lead X", text="Please look now.")
        await session.commit()
        page = await session.scalar(select(OutboxMessage))
        # The pager's e-mail rows look like this:
        await enqueue(
            session,
            channel="email",
            recipient="email:oncall@tipline.example.org",
            payload=page.payload,
            key="p1:mail",
        )
        await session.delete(page)
        await session.commit()
    [row] = await settle(
        sessions, relay_for(sessions, {"email": sender_for(sessions, stores, port)})
    )
    assert row.status == "sent"
    [message] = box.accepted
    assert message["To"] == "oncall@tipline.example.org" and message["Subject"] == "URGENT lead X"
    assert "Please look now." in message.get_payload(decode=True).decode()
