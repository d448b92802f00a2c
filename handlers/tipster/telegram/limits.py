"""A tipster over their message rate on Telegram: a message is answered 'slow down' once a
minute; a button press is answered on the press itself, so the client stops spinning. A message
held back by the overall rate is kept in the inbox for later (its tipster told once a minute)."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from core.errors import Deferred
from core.i18n import Texts
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import HeldBack, OverLimit
from handlers.telegram.middleware import converse
from handlers.tipster.limits import kept_for_later, slow_down
from storage.models import Tipster


async def on_message(message: Message, conversation: Conversation, notify_limit: bool) -> None:
    """A message over the limit."""
    await slow_down(conversation, notify=notify_limit)


async def on_held_back(
    event: Message | CallbackQuery,
    conversation: Conversation,
    services: BotServices,
    tipster: Tipster,
    busy_wait: float,
) -> None:
    """A message or press beyond the overall rate: the inbox keeps it, to be handled in
    `busy_wait` s (a press's spinner stops now; its answer comes when it is handled)."""
    if isinstance(event, CallbackQuery):
        await acknowledge(event)
    await kept_for_later(conversation, services.limiter, tipster_id=tipster.id, channel="telegram")
    raise Deferred(busy_wait)


async def on_press(
    query: CallbackQuery,
    conversation: Conversation,
    texts: Texts,
    notify_limit: bool,
    acknowledged: bool = False,
) -> None:
    """A press over the limit. When the webhook's response already answered it (acknowledged),
    the notice can no longer go on the answer: it is said in the chat, as for messages."""
    if acknowledged:
        await slow_down(conversation, notify=notify_limit)
        return
    with contextlib.suppress(TelegramBadRequest):  # a retried update finds it answered
        await query.answer(texts("limits.slow_down"))


def build_router() -> Router:
    """Catch everything from a tipster over their limit, or held back by the overall rate,
    before any other router."""
    router = converse(Router(name="limits"))
    router.message.register(on_held_back, HeldBack())
    router.callback_query.register(on_held_back, HeldBack())
    router.message.register(on_message, OverLimit())
    router.callback_query.register(on_press, OverLimit())
    return router
