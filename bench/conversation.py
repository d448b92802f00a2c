"""The scripted text-tip conversation that bench/intake.py plays in each chat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[int, dict[str, Any]], Awaitable[None]]
Keyboards = Callable[[int], tuple[int, list[tuple[str, str]]]]

# /start, report, what, when, where, media, contact, confirm
CONVERSATION_STEPS = 8


async def run_conversation(fake: Any, chat_id: int, send: Send, keyboard: Keyboards) -> None:
    """One tipster's whole conversation, each step waiting for the bot's answer."""

    async def press(label: str) -> None:
        message_id, buttons = keyboard(chat_id)
        data = next(d for text, d in buttons if label.lower() in text.lower())
        await send(chat_id, fake.callback_query(chat_id, message_id, data))

    await send(chat_id, fake.command(chat_id, "start"))
    await press("Report a sighting")
    await send(chat_id, fake.text_message(chat_id, f"Girl in a red coat, chat {chat_id}"))
    await press("Now")
    await send(chat_id, fake.text_message(chat_id, "Xi'an"))
    await press("Skip")
    await press("No, keep me anonymous")
    await press("Send report")
