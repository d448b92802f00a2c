"""What an SMS webhook says: its signature, and the message in its form fields.

Twilio-compatible providers POST `application/x-www-form-urlencoded` fields (MessageSid, From,
To, Body, NumMedia, MediaUrl0...) and sign them in `X-Twilio-Signature`: base64 of the
HMAC-SHA1, under the account's auth token, of the full URL the provider called followed by
every POST field's name and value, sorted by name. See docs/sms.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.whatsapp.webhook import Status

log = logging.getLogger("tipline.sms")
SIGNATURE_HEADER = "X-Twilio-Signature"
# E.164: a + and up to 15 digits, the first not 0. Short codes and alphanumeric senders cannot
# receive replies, so they are refused like any other unexpected format.
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")
_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
MAX_BODY = 1600  # Twilio's longest message body
UNSUBSCRIBED = 21610  # the provider's "this number texted STOP to you"
# Carriers' keywords: the whole message, any case (docs/sms.md says why CANCEL opts out).
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
# The provider's message statuses, as the outbox records them (sent < delivered < read;
# failed is final). Statuses before the handover to the carrier say nothing new.
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


class MalformedForm(ValueError):
    """A signed form that is no inbound message (no usable MessageSid)."""


def signature(token: str, url: str, fields: Iterable[tuple[str, str]]) -> str:
    """The signature a provider computes for a POST of `fields` to `url`."""
    data = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_ok(token: str, url: str, fields: Iterable[tuple[str, str]], header: str) -> bool:
    """Whether `header` is the provider's signature of this POST (compared in constant time)."""
    return hmac.compare_digest(signature(token, url, fields).encode(), header.encode())


@dataclass(frozen=True, slots=True)
class Inbound:
    """One text from a person: who (their number, to be keyed and sealed), and what."""

    message_sid: str
    phone: str
    body: str
    media: int  # how many photos or files came with it (MMS); never fetched

    @property
    def keyword(self) -> str | None:
        """'stop', 'start' or 'help' when the whole message is a carrier keyword."""
        word = self.body.strip().upper()
        if word in OPT_OUT:
            return "stop"
        if word in OPT_IN:
            return "start"
        return "help" if word in HELP else None


def parse(fields: dict[str, str]) -> Inbound | None:
    """The message of a signed form; MalformedForm without a MessageSid, None (logged) when
    the sender's number is in an unexpected format (the number is never logged)."""
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    if _SID.fullmatch(sid) is None:
        raise MalformedForm("no usable MessageSid")
    phone = fields.get("From", "")
    if _E164.fullmatch(phone) is None:
        log.warning("sms %s: sender number in an unexpected format", sid)
        return None
    body = fields.get("Body", "")[:MAX_BODY]
    media = fields.get("NumMedia", "0")
    return Inbound(sid, phone, body, int(media) if media.isdigit() else 0)


def parse_status(fields: dict[str, str]) -> Status | None:
    """A status callback's word on one of our messages, or None (logged) for a status that
    records nothing (queued, sending...) or a form without a usable MessageSid."""
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    status = STATUSES.get(fields.get("MessageStatus") or fields.get("SmsStatus") or "")
    if _SID.fullmatch(sid) is None or status is None:
        log.info("sms status callback with nothing to record")
        return None
    code = fields.get("ErrorCode")
    error = f"{code}: {fields.get('MessageStatus')}" if status == "failed" and code else None
    return Status(sid, status, error)


def unsubscribed(fields: dict[str, str]) -> str | None:
    """The number a message failed to reach because it unsubscribed (a later 21610 in a
    status callback), so that it opts out as if it had texted STOP; else None."""
    phone = fields.get("To", "")
    if fields.get("ErrorCode") != str(UNSUBSCRIBED) or _E164.fullmatch(phone) is None:
        return None
    return phone
