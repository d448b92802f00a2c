"""Async filters (a sync or magic filter costs a thread hop on every update)."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject


class PrivateChat(Filter):
    """Only private chats with a person: the tipster routers never fire in groups."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True for a private chat."""
        if isinstance(event, CallbackQuery):
            message = event.message
            return message is not None and message.chat.type == "private"
        return isinstance(event, Message) and event.chat.type == "private"


class TipsterChat(Filter):
    """A private chat whose tipster is within their message rate: the report's routers take
    these first (most of the traffic), and leave everything else to the routers after them."""

    async def __call__(
        self, event: TelegramObject, over_limit: bool = False, busy_wait: float = 0.0, **_: Any
    ) -> bool:
        """True for a private chat within the rate limit, not held back by the overall rate."""
        return not over_limit and not busy_wait and await PrivateChat()(event)


class OverLimit(Filter):
    """True when the tipster is over their message rate (set by ContextMiddleware)."""

    async def __call__(self, event: TelegramObject, over_limit: bool = False, **_: Any) -> bool:
        """The middleware's verdict."""
        return over_limit


class HeldBack(Filter):
    """True when the overall rate holds the message back for now (set by ContextMiddleware)."""

    async def __call__(self, event: TelegramObject, busy_wait: float = 0.0, **_: Any) -> bool:
        """The middleware's verdict."""
        return busy_wait > 0


def _is_command(message: Message) -> bool:
    entities = message.entities or []
    return any(e.type == "bot_command" and e.offset == 0 for e in entities)


class PlainText(Filter):
    """A text message that is not a /command."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True for text without a leading bot command."""
        return isinstance(event, Message) and bool(event.text) and not _is_command(event)


class HasPlace(Filter):
    """A location pin, live location or venue."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True when the message carries a point."""
        return isinstance(event, Message) and (
            event.location is not None or event.venue is not None
        )


class HasMedia(Filter):
    """A photo, video, video note, voice note or document."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True when the message carries a file we may keep."""
        if not isinstance(event, Message):
            return False
        files = (event.photo, event.video, event.video_note, event.voice, event.document)
        return any(f is not None for f in files)


class HasContact(Filter):
    """A shared contact card."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True for a contact."""
        return isinstance(event, Message) and event.contact is not None


class ActionIs(Filter):
    """Callback data whose action is this one; after a CallbackData filter."""

    def __init__(self, action: str) -> None:
        self.action = action

    async def __call__(self, event: TelegramObject, callback_data: Any = None, **_: Any) -> bool:
        """True for the action."""
        return getattr(callback_data, "action", None) == self.action


class NotCommand(Filter):
    """Anything but a /command (those go on to their own handlers; a flow keeps its place)."""

    async def __call__(self, event: TelegramObject) -> bool:
        """True unless the message starts with a bot command."""
        return isinstance(event, Message) and not _is_command(event)
