"""A fake WhatsApp Cloud (Graph) API server: a real aiohttp server on 127.0.0.1.

It records sends (POST /{phone-number-id}/messages), serves media (GET /{media-id} gives a URL;
the URL gives the bytes, both only with the bearer token), fails on demand with Graph API
errors, and delivers signed webhooks to our endpoint.

    async with FakeWhatsApp() as fake:
        settings.whatsapp_api_base = fake.base_url
        await fake.deliver(webhook_url, payloads.message(fake.phone_number_id, ...))
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ServerDisconnectedError, web

from tests.fakes.local import LocalServer
from tests.fakes.whatsapp import payloads

TOKEN = "EAAGfakeWhatsAppTokenForTiplineTests"
APP_SECRET = "fake-app-secret-for-tipline-tests"
VERIFY_TOKEN = "fake-verify-token-0123456789"
PHONE_NUMBER_ID = "106540352242922"
SEND_TYPES = {"text", "interactive", "image", "template"}

# Graph API errors as Meta returns them: (HTTP status, code, message).
ERRORS = {
    131047: (400, "Re-engagement message"),
    130429: (429, "Rate limit hit"),
    131056: (429, "(Business Account, Consumer Account) pair rate limit hit"),
    131026: (400, "Message undeliverable"),
    1: (500, "An unknown error occurred"),
}


@dataclass
class Send:
    """One recorded POST /{phone-number-id}/messages."""

    to: str
    type: str
    body: dict[str, Any]
    wamid: str | None


@dataclass
class _Failure:
    code: int
    times: int
    only_type: str | None = None


@dataclass
class _Media:
    data: bytes
    mime: str
    gone: bool = False


@dataclass
class FakeState:
    """What the fake holds: sends, media, planned failures."""

    sends: list[Send] = field(default_factory=list)
    media: dict[str, _Media] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    media_fetches: int = 0
    uploads: list[str] = field(default_factory=list)


class FakeWhatsApp(LocalServer):
    """The fake Graph API; start it with `async with`."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        app_secret: str = APP_SECRET,
        phone_number_id: str = PHONE_NUMBER_ID,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.host = host
        self.port = port
        self.state = FakeState()
        self._media_ids = itertools.count(9_000_001)

    @property
    def base_url(self) -> str:
        """What TIPLINE_WHATSAPP_API_BASE is set to (Meta's has a version: so has ours)."""
        return f"http://{self.host}:{self.port}/v21.0"

    @property
    def sends(self) -> list[Send]:
        """Every accepted send, in order."""
        return [s for s in self.state.sends if s.wamid is not None]

    async def __aenter__(self) -> FakeWhatsApp:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v21.0/{number}/messages", self._messages)
        app.router.add_post("/v21.0/{number}/media", self._upload)
        app.router.add_get("/v21.0/{media_id}", self._media_info)
        app.router.add_get("/media/{media_id}", self._media_bytes)
        await self.serve(app)
        return self

    # --- control -------------------------------------------------------------------------------

    def fail(self, code: int, *, times: int = 1, only_type: str | None = None) -> None:
        """The next `times` sends (of `only_type`, if given) fail with Graph error `code`."""
        self.state.failures.append(_Failure(code, times, only_type))

    def add_media(self, data: bytes, mime: str = "image/jpeg") -> str:
        """Serve these bytes as a media id (as if a user had sent them)."""
        media_id = str(next(self._media_ids))
        self.state.media[media_id] = _Media(data, mime)
        return media_id

    def expire_media(self, media_id: str) -> None:
        """The media's URL stops working (Meta's URLs last five minutes)."""
        self.state.media[media_id].gone = True

    async def deliver(
        self, url: str, payload: dict[str, Any], *, secret: str | None = None, sign: bool = True
    ) -> int:
        """POST a webhook to our endpoint, signed as Meta signs it; returns the status code."""
        body = payloads.dumps(payload)
        return await self.deliver_raw(url, body, secret=secret, sign=sign)

    async def deliver_raw(
        self, url: str, body: bytes, *, secret: str | None = None, sign: bool = True
    ) -> int:
        """POST these exact bytes (for malformed bodies and forged signatures)."""
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["X-Hub-Signature-256"] = payloads.signature(
                self.app_secret if secret is None else secret, body
            )
        tries = 0
        while True:
            tries += 1
            try:
                async with self.client.post(url, data=body, headers=headers) as response:
                    await response.read()
                    return response.status
            except ServerDisconnectedError:
                # A kept-alive connection the server closed as it was reused (uvicorn closes
                # idle ones after 5 s): no answer came, so Meta delivers again, as here.
                if tries == 3:
                    raise

    # --- the Graph API -------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["number"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request: unknown phone number id")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, 100, "Invalid parameter")
        problem = _check_send(body)
        if problem:
            return _error(400, 100, f"Invalid parameter: {problem}")
        failure = self._take_failure(body["type"])
        if failure is not None:
            self.state.sends.append(Send(body["to"], body["type"], body, None))
            status, message = ERRORS.get(failure, (400, "error"))
            return _error(status, failure, message)
        wamid = payloads.new_wamid()
        self.state.sends.append(Send(body["to"], body["type"], body, wamid))
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": wamid}],
        }
        return web.json_response(answer)

    async def _upload(self, request: web.Request) -> web.Response:
        """POST /{phone-number-id}/media (multipart: messaging_product, type, file)."""
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, web.FileField):
            return _error(400, 100, "Invalid parameter: messaging_product and file needed")
        media_id = self.add_media(upload.file.read(), str(form.get("type") or ""))
        self.state.uploads.append(media_id)
        return web.json_response({"id": media_id})

    def _take_failure(self, kind: str) -> int | None:
        for failure in self.state.failures:
            if failure.times > 0 and failure.only_type in (None, kind):
                failure.times -= 1
                return failure.code
        return None

    async def _media_info(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        media_id = request.match_info["media_id"]
        media = self.state.media.get(media_id)
        if media is None:
            return _error(404, 100, "Unsupported get request: no such media")
        url = f"http://{self.host}:{self.port}/media/{media_id}"
        info = {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": media.mime,
            "sha256": "x",
            "file_size": len(media.data),
            "id": media_id,
        }
        return web.json_response(info)

    async def _media_bytes(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.Response(status=401)
        media = self.state.media.get(request.match_info["media_id"])
        if media is None or media.gone:
            return web.Response(status=404)
        self.state.media_fetches += 1
        return web.Response(body=media.data, content_type=media.mime)


def _error(status: int, code: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "OAuthException", "code": code}}
    return web.json_response(body, status=status)


def _check_send(body: object) -> str | None:
    """What Meta would refuse in a send body, or None."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if not isinstance(body.get("to"), str) or not body["to"].isdigit():
        return "to must be a phone number in digits"
    kind = body.get("type")
    if kind not in SEND_TYPES or not isinstance(body.get(kind), dict):
        return f"type must be one of {sorted(SEND_TYPES)} with its object"
    if kind == "interactive":
        return _check_interactive(body["interactive"])
    if kind == "template":
        template = body["template"]
        if not template.get("name") or not (template.get("language") or {}).get("code"):
            return "a template needs a name and a language code"
    if kind == "text" and not 1 <= len(body["text"].get("body") or "") <= 4096:
        return "text body must be 1..4096 characters"
    return None


def _check_rows(rows: list[dict[str, Any]]) -> str | None:
    if not 1 <= len(rows) <= 10:
        return "1..10 list rows"
    if any(len(r["title"]) > 24 for r in rows):
        return "row titles are at most 24 characters"
    if any(len(r.get("description", "")) > 72 for r in rows):
        return "row descriptions are at most 72 characters"
    return None


def _check_interactive(interactive: dict[str, Any]) -> str | None:
    """Meta's limits: at most 3 reply buttons (titles 20), at most 10 list rows (titles 24), body
    texts of 1024 characters (4096 in a list)."""
    action = interactive.get("action") or {}
    limit = 4096 if interactive.get("type") == "list" else 1024
    if not 1 <= len((interactive.get("body") or {}).get("text") or "") <= limit:
        return f"interactive body text must be 1..{limit} characters"
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "1..3 reply buttons"
        if any(len(b["reply"]["title"]) > 20 for b in buttons):
            return "button titles are at most 20 characters"
        return None
    if interactive.get("type") == "list":
        return _check_rows([r for s in action.get("sections") or [] for r in s["rows"]])
    if interactive.get("type") == "location_request_message":
        if action.get("name") != "send_location":
            return "a location request's action is send_location"
        return None
    return "interactive type must be button, list or location_request_message"
