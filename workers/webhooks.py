"""The webhook sender: police evidence packets POSTed as signed JSON to a case's webhook URL.

The body is the packet document and its files (base64), serialised the same way on every
attempt; `X-Tipline-Signature: sha256=<hex>` is an HMAC-SHA256 of the exact body bytes with the
shared key, and `Idempotency-Key` names the lead and the recipient, so the receiver can drop a
retry it already has. Redirects are not followed (evidence goes to the configured URL only).

Unreachable, 5xx, 408, or no answer within the timeout: retried. 429: waited out (Retry-After).
Any other 4xx or a redirect: parked dead with the status and the start of the answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.outbox import Outcome, Outgoing
from core.packets import PacketFile, read_files
from moderation.police import load_packet, resolve_recipient
from storage.photostore import PhotoStores

log = logging.getLogger("tipline.outbox")
WEBHOOK_FORMAT = "tipline.webhook"
WEBHOOK_VERSION = 1
SIGNATURE_HEADER = "X-Tipline-Signature"
MAX_RETRY_AFTER = 3600.0
_RETRYABLE_4XX = frozenset({408})


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


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


def outcome_of(status: int, *, retry_after_header: str | None, answer: str) -> Outcome:
    """Map the receiver's HTTP answer to the relay's outcome."""
    reason = f"HTTP {status} {' '.join(answer.split())[:300]}".strip()
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
        secret: bytes | None,
        timeout: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.stores = stores
        self.secret = secret
        self.timeout = timeout

    async def send(self, message: Outgoing) -> Outcome:
        """Build the signed body and POST it once; say how it went."""
        if not self.secret:
            return Outcome.permanent("no webhook signing key (TIPLINE_POLICE_WEBHOOK_SECRET)")
        row = await resolve_recipient(self.sessions, message.recipient, kind="webhook")
        if isinstance(row, Outcome):
            return row
        if message.payload.get("kind") != "police_packet":
            return Outcome.permanent(f"unknown webhook payload {message.payload.get('kind')!r}")
        document = await load_packet(self.sessions, int(message.payload.get("forward_id") or 0))
        if document is None:
            return Outcome.permanent("the forward and its packet no longer exist")
        files = await asyncio.to_thread(read_files, document, self.stores)
        body = await asyncio.to_thread(webhook_body, document, files)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tipline-webhook/1",
            SIGNATURE_HEADER: sign(self.secret, body),
            "Idempotency-Key": idempotency_key(document, message.recipient),
            "X-Tipline-Packet": str(document["packet_id"]),
        }
        return await self._post(row.address, body, headers)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                answer = (await response.content.read(500)).decode("utf-8", "replace")
                return outcome_of(
                    response.status,
                    retry_after_header=response.headers.get("Retry-After"),
                    answer=answer,
                )
        except TimeoutError:
            return Outcome.transient(f"no answer within {self.timeout:g} s")
        except aiohttp.ClientError as exc:
            return Outcome.transient(f"webhook unreachable: {type(exc).__name__}")
