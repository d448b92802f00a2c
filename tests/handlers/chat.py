"""A chat without any real channel: a chat's state in memory and a channel that records what it
is asked to send (its text limit chosen by the test)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.engine.channel import Keyboard


class Store:
    """A chat's state and data in memory, counting reads and writes."""

    def __init__(self, state: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.state, self.data = state, dict(data or {})
        self.reads = self.writes = 0

    async def get_data(self) -> dict[str, Any]:
        self.reads += 1
        return dict(self.data)

    async def set_data(self, data: Mapping[str, Any]) -> None:
        self.writes += 1
        self.data = dict(data)

    async def set_state(self, state: str | None = None) -> None:
        self.writes += 1
        self.state = state


class Recorder:
    """A channel that keeps what it would send."""

    def __init__(self, text_limit: int = 50) -> None:
        self.text_limit = text_limit
        self.sent: list[tuple[str, Keyboard | None]] = []

    async def send_text(self, chat_id: int, text: str, buttons: Keyboard | None = None) -> None:
        self.sent.append((text, buttons))

    async def send_photo(self, chat_id: int, photo: str, caption: str = "") -> None:
        self.sent.append((f"photo {photo}", None))

    async def ask_location(self, chat_id: int, text: str) -> None:
        self.sent.append((text, None))
