"""The channels whose provider signs each webhook, for bench/intake.py's (b): WhatsApp (HMAC-SHA256
of the JSON body) and SMS (Twilio's HMAC-SHA1 of the URL and the form). Each is served by
`intake_servers.py` and posted pre-signed (wrk's Lua has no HMAC) by `intake_signed_wrk.lua`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from core.sms.webhook import signature as sms_signature
from tests.fakes.sms.server import ACCOUNT_SID as SMS_ACCOUNT_SID
from tests.fakes.sms.server import AUTH_TOKEN as SMS_AUTH_TOKEN
from tests.fakes.sms.server import NUMBER as SMS_NUMBER
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import APP_SECRET as WA_APP_SECRET
from tests.fakes.whatsapp.server import PHONE_NUMBER_ID as WA_PHONE_NUMBER_ID

SENDERS = 1000


@dataclass(frozen=True, slots=True)
class Signed:
    """A signed channel: its server in intake_servers.py, its path, how a webhook is signed."""

    name: str
    server: str
    path: str
    header: str
    content_type: str
    sign: Callable[[int, str], tuple[str, bytes]]  # (i, webhook URL) -> (signature, body)


def _whatsapp(i: int, url: str) -> tuple[str, bytes]:
    """A text from one of SENDERS, with a distinct message id, signed as Meta signs."""
    sender = str(447_700_900_000 + i % SENDERS)
    payload = wa.message(WA_PHONE_NUMBER_ID, sender, *wa.text("x"), wamid=f"wamid.BENCH{i:09d}")
    body = wa.dumps(payload)
    return wa.signature(WA_APP_SECRET, body), body


def _sms(i: int, url: str) -> tuple[str, bytes]:
    """A text from one of SENDERS, with a distinct MessageSid, signed for the webhook's URL."""
    sid = f"SM{i:032x}"
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": SMS_ACCOUNT_SID,
        "From": f"+44770090{i % SENDERS:04d}",
        "To": SMS_NUMBER,
        "Body": "x",
        "NumMedia": "0",
    }
    return sms_signature(SMS_AUTH_TOKEN, url, fields.items()), urlencode(fields).encode()


WHATSAPP = Signed(
    "WhatsApp",
    "whatsapp",
    "/whatsapp/webhook",
    "X-Hub-Signature-256",
    "application/json",
    _whatsapp,
)
SMS = Signed(
    "SMS",
    "sms",
    "/sms/webhook",
    "X-Twilio-Signature",
    "application/x-www-form-urlencoded",
    _sms,
)
