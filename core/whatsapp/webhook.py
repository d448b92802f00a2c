"""What a WhatsApp webhook says: its signature, its messages and its delivery statuses.

Meta posts `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {...}}]}]}`; a value holds `messages` (with `contacts`, the senders'
profiles) or `statuses` (of messages we sent). See docs/whatsapp.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tipline.whatsapp")
SIGNATURE_HEADER = "X-Hub-Signature-256"
# Message types a flow reads; the others (sticker, reaction, contacts, audio...) are admitted
# so the person can be told, and contacts are kept only sealed.
FLOW_KINDS = frozenset({"text", "location", "image", "document", "interactive", "button"})
STATUSES = ("sent", "delivered", "read", "failed")
# wa_id: the sender's number in international form, digits only (E.164 has at most 15).
_PHONE = re.compile(r"[1-9][0-9]{5,14}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._=:+/-]{1,128}")


class MalformedPayload(ValueError):
    """The body is not a WhatsApp webhook at all (not JSON, not an object of that shape)."""


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is `sha256=<HMAC-SHA256 of the raw body>` under the app secret."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256=").encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a person: who (their number, to be keyed and sealed), and what."""

    message_id: str
    phone: str
    name: str | None
    kind: str
    body: dict[str, Any]  # the message without its sender; contact cards removed
    shared_contacts: list[Any] | None = None  # only ever sealed


@dataclass(frozen=True, slots=True)
class Status:
    """Meta's word on one of our messages."""

    message_id: str
    status: str
    error: str | None


@dataclass(slots=True)
class Parsed:
    """A webhook's messages and statuses; `skipped` counts entries refused (each logged)."""

    messages: list[Inbound] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    skipped: int = 0


def parse(body: bytes, *, phone_number_id: str) -> Parsed:
    """The messages and statuses addressed to our number; MalformedPayload when the body is no
    webhook. Single bad messages or statuses are skipped with a log line."""
    try:
        payload = json.loads(body)
    except ValueError:  # includes non-UTF-8 bodies
        raise MalformedPayload("not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise MalformedPayload("not an object with an entry list")
    parsed = Parsed()
    for entry in payload["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise MalformedPayload("an entry without a changes list")
        for change in changes:
            _read_change(change, phone_number_id, parsed)
    return parsed


def _read_change(change: object, phone_number_id: str, parsed: Parsed) -> None:
    if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
        raise MalformedPayload("a change without a value object")
    if change.get("field") != "messages":
        log.info("whatsapp webhook field %r ignored", change.get("field"))
        return
    value = change["value"]
    number = (value.get("metadata") or {}).get("phone_number_id")
    if number != phone_number_id:
        log.warning("whatsapp webhook for another phone number id %r ignored", number)
        parsed.skipped += 1
        return
    names = _profile_names(value.get("contacts"))
    for message in _list(value, "messages"):
        inbound = _inbound(message, names)
        if inbound is None:
            parsed.skipped += 1
        else:
            parsed.messages.append(inbound)
    for status in _list(value, "statuses"):
        one = _status(status)
        if one is None:
            parsed.skipped += 1
        else:
            parsed.statuses.append(one)


def _list(value: dict[str, Any], key: str) -> list[Any]:
    items = value.get(key, [])
    if not isinstance(items, list):
        raise MalformedPayload(f"{key} is not a list")
    return items


def _profile_names(contacts: object) -> dict[str, str]:
    names = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            name = (contact.get("profile") or {}).get("name")
            names[contact["wa_id"]] = name if isinstance(name, str) else ""
    return names


def _inbound(message: object, names: dict[str, str]) -> Inbound | None:
    """The message, or None (logged) when it lacks an id, a sender number or a type."""
    if not isinstance(message, dict):
        log.warning("whatsapp message that is not an object refused")
        return None
    message_id, phone, kind = message.get("id"), message.get("from"), message.get("type")
    if not isinstance(message_id, str) or _MESSAGE_ID.fullmatch(message_id) is None:
        log.warning("whatsapp message without a usable id refused")
        return None
    if not isinstance(kind, str) or not kind.isidentifier() or len(kind) > 20:
        log.warning("whatsapp message %s without a usable type refused", message_id)
        return None
    if not isinstance(phone, str) or _PHONE.fullmatch(phone) is None:
        # Never log the value: it may be a phone number in another format.
        log.warning("whatsapp message %s: sender number in an unexpected format", message_id)
        return None
    body = {k: v for k, v in message.items() if k not in ("from", "contacts")}
    if isinstance(body.get("context"), dict):  # the message replied to; its "from" is ours
        body["context"] = {k: v for k, v in body["context"].items() if k != "from"}
    shared = None
    if kind == "contacts":
        shared = message.get("contacts") if isinstance(message.get("contacts"), list) else []
    if kind not in FLOW_KINDS:
        log.info("whatsapp message %s of type %s: not part of a flow", message_id, kind)
    return Inbound(message_id, phone, names.get(phone) or None, kind, body, shared)


def _status(status: object) -> Status | None:
    if not isinstance(status, dict):
        return None
    message_id, state = status.get("id"), status.get("status")
    if not isinstance(message_id, str) or state not in STATUSES:
        log.warning("whatsapp status without an id or with status %r refused", state)
        return None
    error = None
    errors = status.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        error = f"{first.get('code')}: {first.get('title') or first.get('message') or ''}"
    return Status(message_id, str(state), error)
