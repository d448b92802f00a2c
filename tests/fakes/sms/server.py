"""A fake Twilio-compatible SMS provider: a real aiohttp server on 127.0.0.1.

It records sends (POST /2010-04-01/Accounts/{sid}/Messages.json, only with the account's basic
auth), fails on demand with the provider's errors, and posts inbound messages to our webhook,
signed as Twilio signs them (X-Twilio-Signature).

    async with FakeSms() as fake:
        settings.sms_api_base = fake.base_url
        await fake.deliver(webhook_url, fake.inbound("+447700900123", "I saw her"))
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from core.sms.webhook import signature
from tests.fakes.local import LocalServer
from workers.sms.rest import basic_auth

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-sms-auth-token-for-tipline-tests"
NUMBER = "+15005550006"
MAX_BODY = 1600

# The provider's errors: code -> (HTTP status, message).
ERRORS = {
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21211: (400, "The 'To' number is not a valid phone number."),
    20429: (429, "Too Many Requests"),
    20003: (401, "Authenticate"),
    20500: (500, "Internal Server Error"),
}


@dataclass
class Send:
    """One recorded send (accepted ones have a SID)."""

    to: str
    sender: str
    body: str
    sid: str | None
    status_callback: str | None = None


@dataclass
class FakeState:
    """What the fake holds: sends and planned failures (code, times left)."""

    sends: list[Send] = field(default_factory=list)
    failures: list[list[int]] = field(default_factory=list)
    refused_auth: int = 0


class FakeSms(LocalServer):
    """The fake provider; start it with `async with`."""

    def __init__(
        self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, number: str = NUMBER
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.number = number
        self.state = FakeState()
        self._sids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What TIPLINE_SMS_API_BASE is set to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def sends(self) -> list[Send]:
        """Every accepted send, in order."""
        return [s for s in self.state.sends if s.sid is not None]

    async def __aenter__(self) -> FakeSms:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._messages)
        await self.serve(app)
        return self

    # --- control -------------------------------------------------------------------------------

    def fail(self, code: int, *, times: int = 1) -> None:
        """The next `times` sends fail with the provider's error `code`."""
        self.state.failures.append([code, times])

    def inbound(
        self, phone: str, body: str, *, sid: str | None = None, media: int = 0
    ) -> dict[str, str]:
        """The form fields of an inbound message, as the provider posts them."""
        sid = sid or "SM" + secrets.token_hex(16)
        fields = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": str(media),
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": self.number,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }
        for i in range(media):
            fields[f"MediaContentType{i}"] = "image/jpeg"
            fields[f"MediaUrl{i}"] = f"{self.base_url}/media/{sid}/{i}"
        return fields

    async def deliver(
        self,
        url: str,
        fields: dict[str, str],
        *,
        token: str | None = None,
        sign: bool = True,
        signed_url: str | None = None,
        header: str | None = None,
    ) -> tuple[int, str]:
        """POST a webhook to our endpoint, signed as the provider signs it (with another
        token, for another URL, or a given header, to forge one); (status, body)."""
        headers = {}
        if sign:
            key = self.auth_token if token is None else token
            headers["X-Twilio-Signature"] = header or signature(
                key, signed_url or url, fields.items()
            )
        async with self.client.post(url, data=fields, headers=headers) as response:
            return response.status, await response.text()

    async def report(self, send: Send, status: str, *, error_code: int | None = None) -> int:
        """POST a signed status callback of a recorded send to its StatusCallback URL."""
        assert send.sid is not None and send.status_callback is not None
        fields = {
            "MessageSid": send.sid,
            "SmsSid": send.sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": send.sender,
            "To": send.to,
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            fields["ErrorCode"] = str(error_code)
        status_code, _ = await self.deliver(send.status_callback, fields)
        return status_code

    # --- the Messages API ----------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        expected = basic_auth(self.account_sid, self.auth_token)
        if request.match_info["account"] != self.account_sid or auth != expected:
            self.state.refused_auth += 1
            return _error(20003)
        form = await request.post()
        to, sender, body = (str(form.get(k, "")) for k in ("To", "From", "Body"))
        if sender != self.number:
            return _error(21606, 400, "The 'From' number is not a valid number for this account")
        if not to.startswith("+") or not to[1:].isdigit():
            return _error(21211)
        if not 1 <= len(body) <= MAX_BODY:
            return _error(21617, 400, "The concatenated message body exceeds 1600 characters")
        failure = self._take_failure()
        if failure is not None:
            self.state.sends.append(Send(to, sender, body, None))
            return _error(failure)
        sid = f"SM{next(self._sids):032x}"
        callback = str(form["StatusCallback"]) if "StatusCallback" in form else None
        self.state.sends.append(Send(to, sender, body, sid, callback))
        answer = {"sid": sid, "status": "queued", "to": to, "from": sender, "body": body}
        return web.json_response(answer, status=201)

    def _take_failure(self) -> int | None:
        for failure in self.state.failures:
            if failure[1] > 0:
                failure[1] -= 1
                return failure[0]
        return None


def _error(code: int, status: int | None = None, message: str | None = None) -> web.Response:
    known_status, known_message = ERRORS.get(code, (400, "error"))
    status = status or known_status
    body = {
        "code": code,
        "message": message or known_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"Retry-After": "2"} if status == 429 else None
    return web.json_response(body, status=status, headers=headers)
