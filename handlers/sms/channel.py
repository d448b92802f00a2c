"""The channel interface on SMS: each reply is one text (or, when a question is too long for
three segments with its choices, its leading lines first in texts of their own), queued as `sms`
outbox rows in the transaction that processes the person's message.

Buttons become numbered choices (core/sms/render.py) and the numbers are remembered as the
person's menu in the same transaction, so their reply "2" is that button's press. SMS carries
no photo and no location request: a photo's caption goes as text, and a location request asks
to type the place (the flows resolve typed places offline).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.outbox import enqueue, tipster_recipient
from core.i18n import Texts
from core.sms import payloads
from core.sms.menus import remember
from core.sms.render import pages, render
from core.sms.webhook import MAX_BODY
from handlers.engine.channel import Keyboard


class SmsChannel:
    """The engine's channel for one inbound text: replies keyed `<key>:<n>`, so processing the
    message again can never send a reply twice. `chat_id` is the tipster's id."""

    text_limit = MAX_BODY

    def __init__(self, session: AsyncSession, texts: Texts, key: str) -> None:
        self.session = session
        self.texts = texts
        self.key = key
        self._count = 0

    async def _put(self, chat_id: int, text: str) -> None:
        self._count += 1
        await enqueue(
            self.session,
            channel="sms",
            recipient=tipster_recipient(chat_id),
            payload=payloads.text(text),
            key=f"{self.key}:{self._count}",
        )

    async def send_text(self, chat_id: int, text: str, buttons: Keyboard | None = None) -> None:
        """The text with its buttons as numbered choices (a text too long for one goes
        ahead in texts of its own); a menu replaces the last one."""
        rows = [[(b.label, b.data) for b in row] for row in buttons or ()]
        lead, menu = pages(self.texts, text, rows)
        for body in lead:
            await self._put(chat_id, body)
        await self._put(chat_id, menu.body)
        if menu.choices:
            await remember(self.session, chat_id, menu.choices)

    async def send_photo(self, chat_id: int, photo: str, caption: str = "") -> None:
        """SMS carries no photo: its caption, if it has one, goes as text."""
        if caption.strip():
            await self.send_text(chat_id, caption)

    async def ask_location(self, chat_id: int, text: str) -> None:
        """No location button on SMS: ask to type the place (a typed number is text now)."""
        await self._put(chat_id, render(self.texts, f"{text}\n{self.texts('sms.type_place')}").body)
        await remember(self.session, chat_id, {})
