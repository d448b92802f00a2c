"""A tipster over their message rate is told once a minute, politely; the rest is dropped."""

from __future__ import annotations

from handlers.engine.wizard import Conversation


async def slow_down(conversation: Conversation, *, notify: bool) -> None:
    """Say 'slow down' when the limiter says it is time to (`notify`: once a minute)."""
    if notify:
        await conversation.say(conversation.texts("limits.slow_down"))
