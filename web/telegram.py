"""POST /telegram/webhook: commit the update to the inbox, then (and only then) answer 200."""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request, Response

from core.inbox import validate_update

log = logging.getLogger("tipline.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY = 1024 * 1024

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
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    try:
        update = validate_update(json.loads(body))
    except ValueError:  # includes JSONDecodeError and non-UTF-8 bodies
        return Response(status_code=400)
    try:
        await context.admission.admit(update)
    except Exception:  # noqa: BLE001 - Telegram retries on 5xx; nothing is lost
        log.warning("could not commit update %s; answering 503", update["update_id"])
        return Response(status_code=503)
    return Response(status_code=200)


# A plain Starlette route: FastAPI's request handling (dependency solving, response models) cost
# more per update than the admission itself, and this endpoint needs none of it.
router.add_route("/telegram/webhook", telegram_webhook, methods=["POST"], include_in_schema=False)
