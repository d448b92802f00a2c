"""WhatsApp's click-to-chat links: https://wa.me/<number>?text=<message>, which opens a chat
with the tip line's business number with the message typed in, ready to send."""

from __future__ import annotations

from urllib.parse import quote


def chat_link(number: str, text: str) -> str:
    """The link to `number` (international digits, no +) with `text` prefilled."""
    return f"https://wa.me/{number}?text={quote(text, safe='')}"
