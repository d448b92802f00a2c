"""POST /telegram/webhook: commit the update to the inbox, then (and only then) answer 200.

A button press in a private chat is answered in that 200 (answerCallbackQuery in the body, as
Telegram allows one Bot API call per webhook response): the spinner stops at admission, and the
processor makes one Telegram call fewer for it.
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.delivery.inbox import private_callback_query_id, validate_update

log = logging.getLogger("tipline.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY = 1024 * 1024
WEBHOOK_PATH = "/telegram/webhook"

router = APIRouter()


async def telegram_webhook(request: Request) -> Response:
    """Durable admission for webhook mode (ARCHITECTURE rule 1)."""
    context = request.app.state.context
    expected = context.webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    if expected is None or context.admission is None:
        return Response(status_code=404)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return Response(status_code=401)
    body = await read_body(request, MAX_BODY)
    if body is None:
        return Response(status_code=413)
    try:
        update = validate_update(json.loads(body))
    except ValueError:  # includes JSONDecodeError and non-UTF-8 bodies
        return Response(status_code=400)
    query_id = private_callback_query_id(update)
    try:
        await context.admission.admit(update, acknowledged=query_id is not None)
    except Exception:  # noqa: BLE001 - Telegram retries on 5xx; nothing is lost
        log.warning("could not commit update %s; answering 503", update["update_id"])
        return Response(status_code=503)
    return _accepted(query_id)


def _accepted(query_id: str | None) -> Response:
    """The 200; for a private button press it carries answerCallbackQuery (Telegram runs it).

    The update was committed with acknowledged=true, so the processor will not answer it again.
    """
    if query_id is None:
        return Response(status_code=200)
    answer = {"method": "answerCallbackQuery", "callback_query_id": query_id}
    return Response(json.dumps(answer), status_code=200, media_type="application/json")


# A plain Starlette route: FastAPI's request handling (dependency solving, response models) cost
# more per update than the admission itself, and this endpoint needs none of it.
router.add_route(WEBHOOK_PATH, telegram_webhook, methods=["POST"], include_in_schema=False)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit` (read no further)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookFirst:
    """The web app, with Telegram's POSTs to the webhook answered before it.

    FastAPI's middleware stack (error pages, security headers, body limits, exception
    handlers) cost more per update than admission itself, and an answer to Telegram needs none
    of it: no page, no browser.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit a webhook update here; pass everything else to the app."""
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # where telegram_webhook finds the context
        response = await telegram_webhook(Request(scope, receive))
        await response(scope, receive, send)
