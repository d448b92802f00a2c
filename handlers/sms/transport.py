"""SMS as a transport of the chat processor (handlers.chats.processor)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from handlers.chats.processor import Transport
from handlers.sms.channel import SmsChannel
from handlers.sms.inputs import read, resolve
from handlers.whatsapp.transport import language_of
from storage.models import SmsInbound


def sms_transport() -> Transport:
    """The `sms_inbox` table, texts read as input (numbers as presses of the last menu),
    replies as `sms` outbox rows in the texts' `sms` variant; a new tipster's language from the
    number's country."""
    return Transport(
        name="sms",
        inbox=cast(Table, SmsInbound.__table__),
        read=read,
        channel=SmsChannel,
        language=lambda phone: language_of(phone.removeprefix("+")),
        resolve=resolve,
        variant="sms",
    )
