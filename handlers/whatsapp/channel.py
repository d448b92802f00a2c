"""The channel interface on WhatsApp: replies become outbox rows in the update's transaction.

Buttons are rendered by count: up to 3 with short labels as reply buttons; up to 10 as a list
message; more than 10 as several list messages of up to 10 rows each (the first with the text,
the others saying there are more choices), so every choice stays one tap away.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.outbox import enqueue, tipster_recipient
from core.i18n import Texts
from core.whatsapp import payloads
from handlers.engine.channel import Keyboard

Part = dict[str, Any]


def _buttons(text: str, choices: list[tuple[str, str]], texts: Texts) -> list[Part]:
    if len(text) <= payloads.INTERACTIVE_LIMIT:
        return [payloads.buttons(text, choices)]
    return [payloads.text(text), payloads.buttons(texts("chat.choose_below"), choices)]


def _lists(text: str, choices: list[tuple[str, str]], texts: Texts) -> list[Part]:
    size = payloads.MAX_ROWS
    pages = [choices[i : i + size] for i in range(0, len(choices), size)]
    label = texts("chat.choose")
    first = payloads.choice_list(text, label, pages[0])
    more = texts("chat.more_choices")
    return [first, *(payloads.choice_list(more, label, page) for page in pages[1:])]


def render(text: str, buttons: Keyboard | None, texts: Texts) -> list[Part]:
    """The messages that carry a text and its buttons (their data comes back as the reply id)."""
    choices = [(b.data, b.label) for row in buttons or () for b in row]
    if not choices:
        return [payloads.text(text)]
    short = all(len(label) <= payloads.BUTTON_TITLE for _, label in choices)
    if len(choices) <= payloads.MAX_BUTTONS and short:
        return _buttons(text, choices, texts)
    return _lists(text, choices, texts)


class WhatsAppChannel:
    """The engine's channel for one inbound message: each reply is a `whatsapp` outbox row
    added to `session` (committed with the message's processing, or not at all), keyed
    `<key>:<n>` so processing the message again can never send a reply twice."""

    text_limit = payloads.TEXT_LIMIT

    def __init__(self, session: AsyncSession, texts: Texts, key: str) -> None:
        self.session = session
        self.texts = texts
        self.key = key
        self._count = 0

    async def _put(self, chat_id: int, free: Part) -> None:
        self._count += 1
        await enqueue(
            self.session,
            channel="whatsapp",
            recipient=tipster_recipient(chat_id),
            payload=payloads.message(free),
            key=f"{self.key}:{self._count}",
        )

    async def send_text(self, chat_id: int, text: str, buttons: Keyboard | None = None) -> None:
        """A text, with its buttons as reply buttons or list rows."""
        for part in render(text, buttons, self.texts):
            await self._put(chat_id, part)

    async def send_photo(self, chat_id: int, photo: str, caption: str = "") -> None:
        """One of our display copies (`photo` is its SHA-256)."""
        await self._put(chat_id, payloads.image(photo, caption))

    async def ask_location(self, chat_id: int, text: str) -> None:
        """WhatsApp's location request (a "Send location" button; a place may be typed too)."""
        await self._put(chat_id, payloads.location_request(text))
