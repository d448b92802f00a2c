"""The narrow channel interface: what a flow sends and receives, whatever carries the chat.

A flow sends text (with buttons), a photo, or a location request, and receives text, a place,
media or a button press. Buttons are plain labels with short data; a channel renders them its own
way (Telegram inline buttons; WhatsApp reply buttons or list rows; numbered choices on SMS).
Nothing here knows Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

MAX_LABEL = 60
"""Long labels (case names, places) are cut to fit a phone."""
MAX_DATA = 64
"""A button's data stays this short (Telegram's limit, the smallest of the channels)."""
SEPARATOR = ":"


@dataclass(frozen=True, slots=True)
class Button:
    """One choice: what it says, and the data it comes back with when pressed."""

    label: str
    data: str


Row = tuple[Button, ...]
Keyboard = tuple[Row, ...]
"""Rows of buttons (a channel that shows a flat list reads them row by row)."""


def button(label: str, prefix: str, *values: str) -> Button:
    """A button whose data is `prefix:value:...` (the label cut to MAX_LABEL)."""
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "…"
    if any(SEPARATOR in value for value in values):
        raise ValueError(f"button data may not contain {SEPARATOR!r}: {values}")
    data = SEPARATOR.join((prefix, *values))
    if len(data.encode()) > MAX_DATA:
        raise ValueError(f"button data longer than {MAX_DATA} bytes: {data}")
    return Button(label, data)


def keyboard(*rows: Row | list[Button]) -> Keyboard:
    """A keyboard from rows, leaving out empty ones."""
    return tuple(tuple(row) for row in rows if row)


def cut(text: str, limit: int) -> str:
    """A text cut to a channel's limit, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Point:
    """A shared location: a pin, a live location or a venue (with its name and address)."""

    lat: float
    lon: float
    source: Literal["pin", "live", "venue"] = "pin"
    accuracy_m: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a draft is sent from: the channel's name, and the key that makes a retried send
    find what the first one made (a keyed hash of the chat and the draft)."""

    channel: str
    source_key: str


class Channel(Protocol):
    """What the engine needs of a chat channel (Telegram today; WhatsApp and SMS next)."""

    text_limit: int
    """The longest text one message may carry (Telegram: 4,096 characters)."""

    async def send_text(self, chat_id: int, text: str, buttons: Keyboard | None = None) -> None:
        """Send a message with optional buttons (the text fits text_limit)."""

    async def send_photo(self, chat_id: int, photo: str, caption: str = "") -> None:
        """Send a photo the channel knows by this id."""

    async def ask_location(self, chat_id: int, text: str) -> None:
        """Ask the person to share a location (a channel without one asks to type a place)."""
