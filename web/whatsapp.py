"""GET and POST /whatsapp/webhook: Meta's verification handshake, and durable admission.

POST answers:
- 401 without a signature, 403 with a wrong one (logged; nothing admitted);
- 413 over MAX_BODY, 400 when a signed body is not JSON or not a webhook's shape (logged);
- 503 when the commit failed (the database is down): Meta retries;
- 200 once the messages and statuses are committed. Single messages or statuses inside it that
  cannot be read (a sender number in an unexpected format, say) are logged and skipped: a
  retry of the same signed body could never succeed, so Meta is not asked for one.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from core.whatsapp.admission import WhatsAppAdmission
from core.whatsapp.webhook import SIGNATURE_HEADER, MalformedPayload, parse, signature_ok
from web.telegram import read_body

log = logging.getLogger("tipline.whatsapp")
MAX_BODY = 1024 * 1024
WEBHOOK_PATH = "/whatsapp/webhook"

router = APIRouter()


@dataclass(frozen=True, slots=True)
class WhatsAppIntake:
    """What the webhook needs: the secrets Meta and we share, our number, the admission."""

    app_secret: str
    verify_token: str
    phone_number_id: str
    admission: WhatsAppAdmission


def _intake(request: Request) -> WhatsAppIntake | None:
    intake: WhatsAppIntake | None = request.app.state.context.whatsapp
    return intake


async def verify(request: Request) -> Response:
    """Meta's subscription handshake: echo hub.challenge when hub.verify_token is ours."""
    intake = _intake(request)
    if intake is None:
        return Response(status_code=404)
    params = request.query_params
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge", "")
    same = hmac.compare_digest(token.encode(), intake.verify_token.encode())
    if params.get("hub.mode") != "subscribe" or not same or not challenge:
        log.warning("whatsapp webhook verification refused (mode or token wrong)")
        return Response(status_code=403)
    return Response(challenge, media_type="text/plain")


async def receive(request: Request) -> Response:
    """Durable admission (ARCHITECTURE rule 1): commit, then 200."""
    intake = _intake(request)
    if intake is None:
        return Response(status_code=404)
    body = await read_body(request, MAX_BODY)
    if body is None:
        log.warning("whatsapp webhook over %s bytes refused", MAX_BODY)
        return Response(status_code=413)
    refusal = _unsigned(intake, body, request.headers.get(SIGNATURE_HEADER))
    if refusal is not None:
        return refusal
    try:
        parsed = parse(body, phone_number_id=intake.phone_number_id)
    except MalformedPayload as exc:
        log.warning("whatsapp webhook refused: %s", exc)
        return Response(status_code=400)
    try:
        await intake.admission.admit(parsed)
    except Exception:  # noqa: BLE001 - Meta retries on 5xx; nothing is lost
        log.warning("could not commit a whatsapp webhook; answering 503")
        return Response(status_code=503)
    return Response(status_code=200)


def _unsigned(intake: WhatsAppIntake, body: bytes, header: str | None) -> Response | None:
    """401 without a signature, 403 with a wrong one; None when Meta signed this body."""
    if header is None:
        log.warning("whatsapp webhook without %s refused", SIGNATURE_HEADER)
        return Response(status_code=401)
    if not signature_ok(intake.app_secret, body, header):
        log.warning("whatsapp webhook with a wrong signature refused")
        return Response(status_code=403)
    return None


# Plain Starlette routes, as for Telegram: the endpoints need no dependency solving.
router.add_route(WEBHOOK_PATH, verify, methods=["GET"], include_in_schema=False)
router.add_route(WEBHOOK_PATH, receive, methods=["POST"], include_in_schema=False)
