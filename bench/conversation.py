"""The scripted text-tip conversation that bench/intake.py plays in each chat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[int, dict[str, Any]], Awaitable[None]]
CONVERSATION_STEPS = 1


async def run_conversation(fake: Any, chat_id: int, send: Send) -> None:
    """One tipster's whole conversation, each step waiting for the bot's answer."""
    await send(chat_id, fake.command(chat_id, "start"))
