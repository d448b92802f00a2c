"""Webhook payloads in the shape the WhatsApp Cloud API sends them (object
whatsapp_business_account > entry > changes > value with messages or statuses)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

_ids = itertools.count(1)


def new_wamid() -> str:
    """A message id in Meta's style (opaque, unique)."""
    return f"wamid.HBgLFAKE{next(_ids):012d}"


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header Meta sends: sha256=<hex HMAC of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """One change of field `messages` for our business number."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001234", "phone_number_id": phone_number_id},
        **value,
    }
    change = {"value": value, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1029", "changes": [change]}]}


def message(
    phone_number_id: str,
    sender: str,
    kind: str,
    body: Any,
    *,
    wamid: str | None = None,
    name: str = "Wei",
) -> dict[str, Any]:
    """An inbound message of `kind` (text, location, image...) with its typed body."""
    one = {
        "from": sender,
        "id": wamid or new_wamid(),
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: body,
    }
    contacts = [{"profile": {"name": name}, "wa_id": sender}]
    return envelope(phone_number_id, {"contacts": contacts, "messages": [one]})


def text(body: str) -> tuple[str, dict[str, Any]]:
    """A text message body."""
    return "text", {"body": body}


def location(lat: float, lon: float, name: str = "") -> tuple[str, dict[str, Any]]:
    """A shared location."""
    return "location", {"latitude": lat, "longitude": lon, "name": name, "address": ""}


def image(media_id: str, caption: str = "", mime: str = "image/jpeg") -> tuple[str, dict[str, Any]]:
    """An image (its bytes come from the media endpoint)."""
    return "image", {"id": media_id, "mime_type": mime, "sha256": "x", "caption": caption}


def document(media_id: str, filename: str, mime: str = "image/jpeg") -> tuple[str, dict[str, Any]]:
    """A document (a photo sent as a file keeps its metadata)."""
    return "document", {"id": media_id, "mime_type": mime, "sha256": "x", "filename": filename}


def button_reply(reply_id: str, title: str) -> tuple[str, dict[str, Any]]:
    """A press on an interactive reply button."""
    return "interactive", {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}


def list_reply(reply_id: str, title: str) -> tuple[str, dict[str, Any]]:
    """A choice from an interactive list."""
    return "interactive", {"type": "list_reply", "list_reply": {"id": reply_id, "title": title}}


def sticker(media_id: str) -> tuple[str, dict[str, Any]]:
    """A sticker (not part of any flow)."""
    return "sticker", {"id": media_id, "mime_type": "image/webp", "animated": False}


def reaction(wamid: str, emoji: str) -> tuple[str, dict[str, Any]]:
    """A reaction to one of our messages."""
    return "reaction", {"message_id": wamid, "emoji": emoji}


def contacts(name: str, phone: str) -> tuple[str, Any]:
    """A shared contact card (someone else's identity: only ever sealed)."""
    card = {"name": {"formatted_name": name}, "phones": [{"phone": phone, "type": "CELL"}]}
    return "contacts", [card]


def status(
    phone_number_id: str, wamid: str, state: str, recipient: str, *, code: int | None = None
) -> dict[str, Any]:
    """A status webhook (sent, delivered, read, failed) of one of our messages."""
    one: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if code is not None:
        one["errors"] = [{"code": code, "title": "Message failed to send"}]
    return envelope(phone_number_id, {"statuses": [one]})


def dumps(payload: dict[str, Any]) -> bytes:
    """The raw body as Meta sends it (compact JSON)."""
    return json.dumps(payload, separators=(",", ":")).encode()
