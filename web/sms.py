"""POST /sms/webhook: durable admission of text messages from a Twilio-compatible provider;
POST /sms/status: its delivery statuses of our messages.

Answers:
- 401 without `X-Twilio-Signature`, 403 with a wrong one (logged; nothing admitted);
- 413 over MAX_BODY, 400 when a signed form is not UTF-8 or has no MessageSid (logged);
- 503 when the commit failed (the database is down): the provider may retry;
- 200 with TwiML once the message is committed: empty (`<Response/>`), or one message for
  HELP/INFO (who we are, how to stop) and for photos (SMS cannot carry them: the web form or
  WhatsApp can). A sender number in an unexpected format is logged and answered 200 with
  nothing admitted: a redelivery of the same form could never succeed.
/sms/status answers 401/403 the same way, 503 when its commit fails, 204 once recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response

from core.i18n import Texts
from core.sms.admission import SmsAdmission
from core.sms.webhook import (
    SIGNATURE_HEADER,
    Inbound,
    MalformedForm,
    parse,
    parse_status,
    signature_ok,
    unsubscribed,
)
from web.telegram import read_body

log = logging.getLogger("tipline.sms")
MAX_BODY = 64 * 1024
WEBHOOK_PATH = "/sms/webhook"
STATUS_PATH = "/sms/status"

router = APIRouter()


@dataclass(frozen=True, slots=True)
class SmsIntake:
    """What the webhooks need: the auth token that signs, the public base URL the provider
    calls (as it signs it, behind any proxy), the name HELP gives, the web form's address, the
    admission."""

    auth_token: str
    base_url: str
    name: str
    report_url: str
    admission: SmsAdmission


def _intake(request: Request) -> SmsIntake | None:
    intake: SmsIntake | None = request.app.state.context.sms
    return intake


async def receive(request: Request) -> Response:
    """Durable admission (ARCHITECTURE rule 1): commit, then 200."""
    intake = _intake(request)
    if intake is None:
        return Response(status_code=404)
    fields = await _signed_form(intake, request, WEBHOOK_PATH)
    if isinstance(fields, Response):
        return fields
    try:
        message = parse(dict(fields))
    except MalformedForm as exc:
        log.warning("sms webhook refused: %s", exc)
        return Response(status_code=400)
    if message is None:
        return _twiml(None)
    try:
        await intake.admission.admit(message)
    except Exception:  # noqa: BLE001 - the provider may retry; nothing is lost
        log.warning("could not commit an sms webhook; answering 503")
        return Response(status_code=503)
    return _twiml(_reply(intake, message))


async def delivery_status(request: Request) -> Response:
    """A status callback (delivered, undelivered, failed) recorded on the outbox row, a
    21610 also as the number's opt-out; 503 when that commit fails, so the provider may try
    again."""
    intake = _intake(request)
    if intake is None:
        return Response(status_code=404)
    fields = await _signed_form(intake, request, STATUS_PATH)
    if isinstance(fields, Response):
        return fields
    form = dict(fields)
    status = parse_status(form)
    if status is not None:
        try:
            await intake.admission.record(status, unsubscribed=unsubscribed(form))
        except Exception:  # noqa: BLE001 - the provider may retry; nothing is lost
            log.warning("could not record an sms delivery status; answering 503")
            return Response(status_code=503)
    return Response(status_code=204)


async def _signed_form(
    intake: SmsIntake, request: Request, path: str
) -> list[tuple[str, str]] | Response:
    """The form's fields when the provider signed them; else the refusal: 413 over MAX_BODY,
    401 without a signature, 403 with a wrong one (or a form that is no UTF-8, which nothing
    could have signed)."""
    body = await read_body(request, MAX_BODY)
    if body is None:
        log.warning("sms webhook over %s bytes refused", MAX_BODY)
        return Response(status_code=413)
    try:
        fields = parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        fields = None
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        log.warning("sms webhook without %s refused", SIGNATURE_HEADER)
        return Response(status_code=401)
    query = request.url.query
    url = intake.base_url + path + (f"?{query}" if query else "")
    if fields is None or not signature_ok(intake.auth_token, url, fields, header):
        log.warning("sms webhook with a wrong signature refused")
        return Response(status_code=403)
    return fields


def _reply(intake: SmsIntake, message: Inbound) -> str | None:
    texts = Texts("en")  # the keywords are English; so is what answers them
    if message.keyword == "help":
        return texts("sms.help", name=intake.name)
    if message.media:
        return texts("sms.media", url=intake.report_url)
    return None


def _twiml(text: str | None) -> Response:
    """The provider's answer: TwiML with the message to send back, or none."""
    inner = f"<Message>{escape(text)}</Message>" if text else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, media_type="text/xml")


# Plain Starlette routes, as for Telegram and WhatsApp: no dependency solving.
router.add_route(WEBHOOK_PATH, receive, methods=["POST"], include_in_schema=False)
router.add_route(STATUS_PATH, delivery_status, methods=["POST"], include_in_schema=False)
