"""Police packets by webhook, through the relay, to a real aiohttp receiver on 127.0.0.1 that
verifies Standard Webhooks signatures with the reference `standardwebhooks` library and counts
Idempotency-Keys: one key for every retry (after a 500 and a hang), 429 waited out, 4xx parked
dead with our own phrase, an unreachable URL not holding up the others, a removed recipient.

The receiver's host:port is exempted the test-only way (TIPLINE_TEST_WEBHOOK_EXEMPT_HOSTS), so
it may be plain http on loopback; tests/workers/test_webhook_custody.py checks what is refused.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from core.delivery.webhook_signing import WebhookSecrets
from core.delivery.webhook_targets import TargetRules
from moderation.forwarding import police_recipients
from moderation.forwarding.police_recipients import approve_recipient
from moderation.review.decisions import Outcome, decide
from storage.models import Forward, OutboxMessage
from tests.fakes.police_webhook import Receiver
from tests.moderation import factories
from tests.moderation.test_forwarding import forwarding_world
from workers.relay import Relay, Retry
from workers.webhooks import WebhookSender, retry_after

SECRETS = WebhookSecrets(b"police-webhook-master-key-for-tests-0123456789")
FAST = Retry(max_attempts=4, base=0.05, cap=0.1)


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def sender_for(
    sessions, stores, *, rules: TargetRules, secrets=SECRETS, timeout=0.5
) -> WebhookSender:
    return WebhookSender(
        sessions=sessions, stores=stores, secrets=secrets, rules=rules, timeout=timeout
    )


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


async def add_webhook(session, senior, case, url: str, rules: TargetRules, *, approve=True):
    """A webhook recipient added by `senior` (secret shown once) and approved by a second."""
    new = await police_recipients.add_recipient(
        session,
        staff=senior,
        case_ref=case.ref,
        kind="webhook",
        address=url,
        label="",
        rules=rules,
        secrets=SECRETS,
    )
    if approve:
        second = await factories.staff(
            session, "senior_moderator", email=f"approver-{new.recipient.id}@example.org"
        )
        await approve_recipient(
            session, staff=second, case_ref=case.ref, recipient_id=new.recipient.id
        )
    return new


async def lead_to(sessions, stores, receiver: Receiver, *urls: str):
    """A promising lead whose case sends packets to these webhook URLs; the police forward."""
    async with sessions() as session:
        senior, mod, case, _, tip, photo = await forwarding_world(session, stores, recipients=False)
        for url in urls:
            new = await add_webhook(session, senior, case, url, receiver.rules)
            receiver.secrets.append(new.secret)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
        forward = await session.scalar(select(Forward).where(Forward.audience == "police"))
        return forward, photo


# --- delivery ----------------------------------------------------------------------------------


async def test_the_packet_is_posted_signed_with_its_files(sessions, stores, receiver):
    forward, photo = await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
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
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions,
        relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules, timeout=0.5)),
    )
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(receiver.requests) == 3 and len(set(receiver.keys)) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(r["signed"] for r in receiver.requests)


async def test_429_waits_for_retry_after_without_spending_an_attempt(sessions, stores, receiver):
    receiver.script = [(429, {"Retry-After": "1"}, 0.0)]
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert (row.status, row.attempts) == ("sent", 1)
    first, second = receiver.requests
    assert second["at"] - first["at"] >= 0.9
    assert first["key"] == second["key"]


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
async def test_a_4xx_answer_is_parked_dead_with_it(sessions, stores, receiver, status):
    receiver.script = [(status, {}, 0.0)]
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert (row.status, row.attempts) == ("dead", 1)
    # Our own phrase for the status: nothing the receiver wrote is stored or shown.
    assert row.last_error == f"HTTP {status} {HTTPStatus(status).phrase}"


async def test_408_is_retried(sessions, stores, receiver):
    receiver.script = [(408, {}, 0.0)]
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_redirect_is_not_followed(sessions, stores, receiver):
    receiver.script = [(302, {"Location": "https://elsewhere.example.org/"}, 0.0)]
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert row.status == "dead" and "redirects are not followed" in row.last_error
    assert len(receiver.requests) == 1


async def test_an_unreachable_url_is_retried_then_parked_while_the_other_recipient_gets_it(
    sessions, stores, receiver
):
    closed = _closed_url()
    port = urlsplit(closed).port
    receiver_port = urlsplit(receiver.url).port
    rules = TargetRules.build(exempt=[f"127.0.0.1:{port}", f"127.0.0.1:{receiver_port}"])
    async with sessions() as session:
        senior, mod, case, _, tip, _ = await forwarding_world(session, stores, recipients=False)
        for url in (closed, receiver.url):
            receiver.secrets.append((await add_webhook(session, senior, case, url, rules)).secret)
        await decide(session, staff=mod, tip_ref=tip.ref, outcome=Outcome.PROMISING)
    dead, sent = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=rules))
    )
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert (dead.status, dead.attempts) == ("dead", FAST.max_attempts)
    assert dead.last_error.startswith("gave up: webhook unreachable")
    assert len(receiver.requests) == 1


async def test_without_a_signing_key_nothing_is_sent_and_the_row_says_why(
    sessions, stores, receiver
):
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions,
        relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules, secrets=None)),
    )
    assert row.status == "dead" and "signing key" in row.last_error
    assert receiver.requests == []


async def test_a_missing_file_is_named_in_the_body_not_a_reason_to_withhold_the_packet(
    sessions, stores, receiver
):
    _, photo = await lead_to(sessions, stores, receiver, receiver.url)
    stores.originals.delete(photo.original_sha256)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
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


async def test_a_recipient_removed_while_its_packet_was_queued_gets_nothing(
    sessions, stores, receiver
):
    await lead_to(sessions, stores, receiver, receiver.url)
    [queued] = await rows(sessions)
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator", email="remover@example.org")
        recipient_id = int(queued.recipient.partition(":")[2])
        case_ref = (await session.get(Forward, queued.payload["forward_id"])).packet["case"]["ref"]
        await police_recipients.deactivate_recipient(
            session, staff=senior, case_ref=case_ref, recipient_id=recipient_id
        )
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert row.status == "dead" and "removed" in row.last_error
    assert receiver.requests == []


# --- Standard Webhooks ---------------------------------------------------------------------------


async def test_the_reference_library_verifies_our_request_and_refuses_it_tampered(
    sessions, stores, receiver
):
    await lead_to(sessions, stores, receiver, receiver.url)
    [row] = await settle(
        sessions, relay_for(sessions, sender_for(sessions, stores, rules=receiver.rules))
    )
    assert row.status == "sent"
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["webhook-id"] == headers["Idempotency-Key"]
    assert headers["webhook-signature"].startswith("v1,")
    [secret] = receiver.secrets
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert Webhook(secret).verify(body, headers)["format"] == "tipline.webhook"
    tampered = body.replace(b'"promising"', b'"dismissed"', 1)
    assert tampered != body
    for bad_body, bad_headers in [
        (tampered, headers),
        (body, {**headers, "webhook-id": headers["webhook-id"] + "x"}),
        (body, {**headers, "webhook-signature": headers["webhook-signature"][:-4] + "AAA="}),
    ]:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(bad_body, bad_headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRETS.secret(999, 1)).verify(body, headers)  # another recipient's secret


def test_a_stale_timestamp_is_refused_by_the_reference_library():
    body = b'{"format":"tipline.webhook"}'
    state = police_state(7)
    now = datetime.now(UTC)
    fresh = SECRETS.headers(state, msg_id="K7Q2-9XRA.F1.police-7", body=body, now=now)
    stale = SECRETS.headers(
        state, msg_id="K7Q2-9XRA.F1.police-7", body=body, now=now - timedelta(minutes=6)
    )
    Webhook(SECRETS.secret(7, 1)).verify(body, fresh)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRETS.secret(7, 1)).verify(body, stale)


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one():
    body = b"{}"
    now = datetime.now(UTC)
    old, new = SECRETS.secret(7, 1), SECRETS.secret(7, 2)
    rotating = police_state(7, generation=2, previous_until=now + timedelta(hours=1))
    headers = SECRETS.headers(rotating, msg_id="m", body=body, now=now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    done = police_state(7, generation=2, previous_until=now - timedelta(seconds=1))
    headers = SECRETS.headers(done, msg_id="m", body=body, now=now)
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


def police_state(recipient_id, *, generation=1, previous_until=None):
    from core.delivery.webhook_signing import SigningState

    return SigningState(
        recipient_id=recipient_id, generation=generation, previous_until=previous_until
    )
