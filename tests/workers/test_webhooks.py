"""Police packets by webhook, through the relay, to a real aiohttp receiver on 127.0.0.1 that
checks the HMAC signature and counts Idempotency-Keys: one key for every retry (after a 500 and
a hang), 429 waited out, 4xx parked dead, an unreachable URL not holding up the others.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from sqlalchemy import select

from moderation.decisions import Outcome, decide
from moderation.police import add_recipient
from storage.models import Forward, OutboxMessage
from storage.photostore import open_photo_stores
from tests.moderation.test_forwarding import forwarding_world
from workers.relay import Relay, Retry
from workers.webhooks import SIGNATURE_HEADER, WebhookSender, retry_after, sign

SECRET = b"police-webhook-shared-secret-0123456789"
FAST = Retry(max_attempts=4, base=0.05, cap=0.1)


@dataclass
class Receiver:
    """A police system's endpoint: checks signatures, answers as scripted, remembers requests."""

    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(request.headers.get(SIGNATURE_HEADER, ""), expected)
        self.requests.append(
            {
                "key": request.headers.get("Idempotency-Key"),
                "signed": signed,
                "body": body,
                "at": time.monotonic(),
            }
        )
        status, headers, delay = self.script.pop(0) if self.script else (200, {}, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if not signed:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=status, headers=headers, text=f"answer {status}")

    @property
    def keys(self) -> list[str]:
        return [r["key"] for r in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def sender_for(sessions, stores, *, secret: bytes | None = SECRET, timeout=0.5) -> WebhookSender:
    return WebhookSender(sessions=sessions, stores=stores, secret=secret, timeout=timeout)


async def rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.channel == "webhook")
        return list((await session.scalars(stmt.order_by(OutboxMessage.id))).all())


async def settle(sessions, relay: Relay, *, within: float = 20.0) -> list[OutboxMessage]:
    """Run the relay until no webhook row is pending or sending."""
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(within):
            while any(r.status in ("pending", "sending") for r in await rows(sessions)):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return await rows(sessions)


def relay_for(sessions, sender) -> Relay:
    return Relay(
        sessions=sessions, senders={"webhook": sender}, retry=FAST, send_timeout=5, lease=30
    )


async def lead_to(sessions, stores, *urls: str):
    """A promising lead whose case sends packets to these webhook URLs; the police forward."""
    async with sessions() as session:
        senior, mod, case, _, tip, photo = await forwarding_world(session, stores, recipients=False)
        for url in urls:
            await add_recipient(
                session, staff=senior, case_ref=case.ref, kind="webhook", address=url, label=""
            )
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        forward = await session.scalar(select(Forward).where(Forward.audience == "police"))
        return forward, photo


# --- delivery ----------------------------------------------------------------------------------


async def test_the_packet_is_posted_signed_with_its_files(sessions, stores, receiver):
    forward, photo = await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert (row.status, row.attempts) == ("sent", 1)
    [request] = receiver.requests
    assert request["signed"]
    assert request["key"] == f"{forward.packet['packet_id']}.{row.recipient.replace(':', '-')}"
    body = json.loads(request["body"])
    assert (body["format"], body["version"]) == ("tipline.webhook", 1)
    assert body["packet"] == forward.packet
    by_sha = {f["sha256"]: f for f in body["files"]}
    for sha in (photo.original_sha256, photo.display_sha256):
        data = base64.b64decode(by_sha[sha]["data_base64"])
        assert hashlib.sha256(data).hexdigest() == sha and by_sha[sha]["size"] == len(data)
    assert {f["kind"] for f in body["files"]} == {"original", "display"}


async def test_every_retry_after_a_500_and_a_hang_carries_the_same_key_and_body(
    sessions, stores, receiver
):
    receiver.script = [(500, {}, 0.0), (200, {}, 2.0), (200, {}, 0.0)]
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores, timeout=0.5)))
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(receiver.requests) == 3 and len(set(receiver.keys)) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(r["signed"] for r in receiver.requests)


async def test_429_waits_for_retry_after_without_spending_an_attempt(sessions, stores, receiver):
    receiver.script = [(429, {"Retry-After": "1"}, 0.0)]
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert (row.status, row.attempts) == ("sent", 1)
    first, second = receiver.requests
    assert second["at"] - first["at"] >= 0.9
    assert first["key"] == second["key"]


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
async def test_a_4xx_answer_is_parked_dead_with_it(sessions, stores, receiver, status):
    receiver.script = [(status, {}, 0.0)]
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error.startswith(f"HTTP {status} answer {status}")


async def test_408_is_retried(sessions, stores, receiver):
    receiver.script = [(408, {}, 0.0)]
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_redirect_is_not_followed(sessions, stores, receiver):
    receiver.script = [(302, {"Location": "https://elsewhere.example.org/"}, 0.0)]
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert row.status == "dead" and "redirects are not followed" in row.last_error
    assert len(receiver.requests) == 1


async def test_an_unreachable_url_is_retried_then_parked_while_the_other_recipient_gets_it(
    sessions, stores, receiver
):
    await lead_to(sessions, stores, _closed_url(), receiver.url)
    dead, sent = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert (dead.status, dead.attempts) == ("dead", FAST.max_attempts)
    assert dead.last_error.startswith("gave up: webhook unreachable")
    assert len(receiver.requests) == 1


async def test_without_a_signing_key_nothing_is_sent_and_the_row_says_why(
    sessions, stores, receiver
):
    await lead_to(sessions, stores, receiver.url)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores, secret=None)))
    assert row.status == "dead" and "TIPLINE_POLICE_WEBHOOK_SECRET" in row.last_error
    assert receiver.requests == []


async def test_a_missing_file_is_named_in_the_body_not_a_reason_to_withhold_the_packet(
    sessions, stores, receiver
):
    _, photo = await lead_to(sessions, stores, receiver.url)
    stores.originals.delete(photo.original_sha256)
    [row] = await settle(sessions, relay_for(sessions, sender_for(sessions, stores)))
    assert row.status == "sent"
    body = json.loads(receiver.requests[0]["body"])
    [gone] = [f for f in body["files"] if f["sha256"] == photo.original_sha256]
    assert "data_base64" not in gone and "retention" in gone["missing"]


# --- helpers -----------------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates_and_caps_them():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert retry_after("30") == 30.0
    assert retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert retry_after("999999") == 3600.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_the_signature_is_hmac_sha256_of_the_exact_body():
    body = b'{"a":1}'
    assert sign(SECRET, body) == "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
