"""WhatsApp as a transport of the chat processor (handlers.chats.processor)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from handlers.chats.processor import Transport
from handlers.whatsapp.channel import WhatsAppChannel
from handlers.whatsapp.inputs import read
from storage.models import WhatsAppInbound

# Country codes whose people are answered in Chinese (mainland China, Hong Kong, Macau, Taiwan);
# WhatsApp tells us no language, and the number's country is the best guess we have.
CHINESE = ("86", "852", "853", "886")


def language_of(phone: str) -> str:
    """A new tipster's language from their number's country code."""
    return "zh-Hans" if phone.startswith(CHINESE) else "en"


def whatsapp_transport() -> Transport:
    """The `whatsapp_inbox` table, its messages read as input, replies as whatsapp outbox rows."""
    return Transport(
        name="whatsapp",
        inbox=cast(Table, WhatsAppInbound.__table__),
        read=read,
        channel=WhatsAppChannel,
        language=language_of,
    )
