"""Outbox payloads for SMS: `{"text": <the whole reply, already fitted to its segments>}`."""

from __future__ import annotations

from typing import Any

from core.sms.webhook import MAX_BODY


def text(body: str) -> dict[str, Any]:
    """One text message (the provider splits it into segments; the phone joins them)."""
    if not body.strip() or len(body) > MAX_BODY:
        raise ValueError(f"an SMS is 1..{MAX_BODY} characters")
    return {"text": body}
