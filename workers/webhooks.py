"""The webhook sender: police evidence packets POSTed as signed JSON to a case's webhook URL.

The body is the packet document and its files (base64), serialised the same way on every
attempt. Each attempt is signed the Standard Webhooks way with the recipient's own secret
(core/delivery/webhook_signing.py); `Idempotency-Key` (also the `webhook-id`) names the lead and the
recipient, so the receiver can drop a retry it already has.

Evidence goes only where two people approved, and only to a public address: the recipient is
looked up at send time (removed or pending: nothing is sent), the URL is checked again (https,
allow-list), and the host is resolved by our own resolver, which refuses private, loopback,
link-local, multicast and reserved addresses; the connection uses the addresses it checked, so
a DNS answer cannot change between the check and the connection. Redirects are not followed.

Unreachable, 5xx, 408, or no answer within the timeout: retried. 429: waited out (Retry-After).
Any other 4xx, a redirect or a refused address: parked dead. A stored reason holds the status
code and a fixed phrase, never anything the receiver wrote.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import Outcome, Outgoing
from core.delivery.packets import PacketFile, read_files
from core.delivery.webhook_signing import SigningState, WebhookSecrets
from core.delivery.webhook_targets import (
    TargetRefused,
    TargetRules,
    check_webhook_url,
    refuse_addresses,
)
from core.errors import InvalidInput
from moderation.forwarding.police import load_packet
from moderation.forwarding.police_recipients import resolve_recipient
from storage.models import PoliceRecipient
from storage.photostore import PhotoStores

log = logging.getLogger("tipline.outbox")
WEBHOOK_FORMAT = "tipline.webhook"
WEBHOOK_VERSION = 1
MAX_RETRY_AFTER = 3600.0
_RETRYABLE_4XX = frozenset({408})


class PublicOnlyResolver(AbstractResolver):
    """Resolves through the system resolver and refuses a host with any non-public address.

    One per attempt: `refused` then says why a connection failed before it was tried."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self.refused: str | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The host's addresses, all public, or OSError (aiohttp's way to fail a connection)."""
        found = await self._inner.resolve(host, port, family)
        try:
            refuse_addresses([entry["host"] for entry in found])
        except TargetRefused as exc:
            self.refused = str(exc)
            raise OSError(str(exc)) from None
        return found

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


def idempotency_key(document: dict[str, Any], recipient: str) -> str:
    """The same for every attempt of one lead to one recipient: <packet id>.<recipient>."""
    return f"{document['packet_id']}.{recipient.replace(':', '-')}"


def _file(file: PacketFile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": file.path,
        "sha256": file.sha256,
        "kind": file.kind,
        "media_type": file.media_type,
    }
    if file.data is None:
        entry["missing"] = file.problem
    else:
        entry["size"] = len(file.data)
        entry["data_base64"] = base64.b64encode(file.data).decode("ascii")
    return entry


def webhook_body(document: dict[str, Any], files: list[PacketFile]) -> bytes:
    """The POST body: {format, version, packet, files}; compact JSON with sorted keys."""
    body = {
        "format": WEBHOOK_FORMAT,
        "version": WEBHOOK_VERSION,
        "packet": document,
        "files": [_file(f) for f in files],
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def reason_for(status: int) -> str:
    """`HTTP <code> <standard phrase>`: ours, whatever the receiver wrote in its answer."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "unknown status"
    return f"HTTP {status} {phrase}"


def outcome_of(status: int, *, retry_after_header: str | None) -> Outcome:
    """Map the receiver's HTTP status to the relay's outcome (its body is never read)."""
    reason = reason_for(status)
    if 200 <= status < 300:
        return Outcome.sent()
    if status == 429:
        wait = retry_after(retry_after_header)
        return Outcome.flood(wait) if wait is not None else Outcome.transient(reason)
    if status >= 500 or status in _RETRYABLE_4XX:
        return Outcome.transient(reason)
    if 300 <= status < 400:
        return Outcome.permanent(f"{reason} (redirects are not followed: fix the URL)")
    return Outcome.permanent(reason)


class WebhookSender:
    """Sends `webhook` outbox rows (`police:<id>` recipients) as signed POSTs."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stores: PhotoStores,
        secrets: WebhookSecrets | None,
        rules: TargetRules | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.stores = stores
        self.secrets = secrets
        self.rules = rules or TargetRules()
        self.timeout = timeout

    async def send(self, message: Outgoing) -> Outcome:
        """Check the recipient, build the signed body and POST it once; say how it went."""
        if self.secrets is None:
            return Outcome.permanent("no webhook signing key (the vault key)")
        target = await self._target(message.recipient)
        if isinstance(target, Outcome):
            return target
        row, exempt = target
        if message.payload.get("kind") != "police_packet":
            return Outcome.permanent(f"unknown webhook payload {message.payload.get('kind')!r}")
        document = await load_packet(self.sessions, int(message.payload.get("forward_id") or 0))
        if document is None:
            return Outcome.permanent("the forward and its packet no longer exist")
        files = await asyncio.to_thread(read_files, document, self.stores)
        body = await asyncio.to_thread(webhook_body, document, files)
        key = idempotency_key(document, message.recipient)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tipline-webhook/1",
            "Idempotency-Key": key,
            "X-Tipline-Packet": str(document["packet_id"]),
            **self.secrets.headers(_state(row), msg_id=key, body=body, now=datetime.now(UTC)),
        }
        return await self._post(row.address, body, headers, exempt=exempt)

    async def _target(self, recipient: str) -> tuple[PoliceRecipient, bool] | Outcome:
        """The approved recipient and whether it is exempted, or why nothing may go there."""
        row = await resolve_recipient(self.sessions, recipient, kind="webhook")
        if isinstance(row, Outcome):
            return row
        try:
            return row, self._check(row.address)
        except InvalidInput as exc:
            return Outcome.permanent(f"refused: {exc}")
        except TargetRefused as exc:
            return Outcome.permanent(str(exc))

    def _check(self, url: str) -> bool:
        """The URL's rules again at send time (settings may have changed since it was added);
        whether its host is exempted for tests. An address literal is checked here, because
        aiohttp does not ask the resolver about one."""
        parts = check_webhook_url(url, self.rules)
        exempt = self.rules.exempt(parts)
        host = parts.hostname or ""
        if not exempt and _is_literal(host):
            refuse_addresses([host])
        return exempt

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], *, exempt: bool
    ) -> Outcome:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        resolver = aiohttp.ThreadedResolver() if exempt else PublicOnlyResolver()
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, connector=connector) as client,
                client.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                return outcome_of(
                    response.status, retry_after_header=response.headers.get("Retry-After")
                )
        except TimeoutError:
            return Outcome.transient(f"no answer within {self.timeout:g} s")
        except aiohttp.ClientError as exc:
            refused = getattr(resolver, "refused", None)
            if refused:
                return Outcome.permanent(refused)
            return Outcome.transient(f"webhook unreachable: {type(exc).__name__}")


def _state(row: PoliceRecipient) -> SigningState:
    return SigningState(
        recipient_id=row.id,
        generation=row.secret_generation,
        previous_until=row.previous_secret_until,
    )


def _is_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True
