"""Standard Webhooks signatures for police webhooks: one secret per recipient, rotated with grace.

A recipient's secret is never stored: it is derived from a master key (itself derived from the
vault key by the composition root) and the recipient's id and secret generation, so a copy of
the database alone cannot sign a packet. It is shown once, when the recipient is added or its
secret rotated. While a rotation's grace period runs, each request carries two signatures (the
new secret's and the old one's), so the receiver can switch over without losing a packet.

Headers (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` (Unix seconds)
and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, space-separated).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class SigningState:
    """What a recipient row says about its secret: which generation, and until when the one
    before it still signs (None: no rotation in its grace period)."""

    recipient_id: int
    generation: int
    previous_until: datetime | None = None


class WebhookSecrets:
    """Derives recipients' secrets from one master key and signs requests with them."""

    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise ValueError("the webhook master key must be at least 32 bytes")
        self._master = master

    def _key(self, recipient_id: int, generation: int) -> bytes:
        label = f"police-webhook:{int(recipient_id)}:{int(generation)}".encode()
        return hmac.new(self._master, label, hashlib.sha256).digest()[:SECRET_BYTES]

    def secret(self, recipient_id: int, generation: int) -> str:
        """The secret to give the receiver: whsec_<base64 of 32 bytes>."""
        raw = self._key(recipient_id, generation)
        return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")

    def headers(
        self, state: SigningState, *, msg_id: str, body: bytes, now: datetime
    ) -> dict[str, str]:
        """The three Standard Webhooks headers for one attempt, signed at `now`."""
        timestamp = str(int(now.timestamp()))
        generations = [state.generation]
        if state.previous_until is not None and now < state.previous_until:
            generations.append(state.generation - 1)
        content = f"{msg_id}.{timestamp}.".encode() + body
        signatures = [
            "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
            for key in (self._key(state.recipient_id, g) for g in generations if g >= 1)
        ]
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": " ".join(signatures),
        }
