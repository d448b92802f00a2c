"""The engine's conversation, made once per update for the handlers of a flow's routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Message, TelegramObject, Update

from core.i18n import Texts
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import TelegramChannel

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ConversationMiddleware(BaseMiddleware):
    """Inject `conversation` (the chat's state, read once) and save it after the handler.

    An inner middleware: it runs only for the handler that takes the update, so updates no flow
    takes cost nothing. The state is saved before the processor commits the update: in the
    database, in the same transaction; in Redis, apart from it, so the data records the update
    that changed it and an update handled again after a crash is not applied twice.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Make the conversation, run the handler, save what it changed."""
        state: FSMContext | None = data.get("state")
        bot: Bot | None = data.get("bot")
        if state is None or bot is None:
            return await handler(event, data)
        if isinstance(event, Message):
            chat_id = event.chat.id
        else:
            user = data.get("event_from_user")
            chat_id = user.id if user is not None else state.key.chat_id
        texts: Texts = data["texts"]
        update: Update | None = data.get("event_update")
        apart = isinstance(state.storage, RedisStorage) and update is not None
        conversation = Conversation(
            state,
            TelegramChannel(bot),
            chat_id,
            texts,
            data.get("raw_state"),
            update_id=update.update_id if apart and update is not None else None,
        )
        if await conversation.applied():
            return None  # handled before a crash: its replies went then
        data["conversation"] = conversation
        result = await handler(event, data)
        await conversation.save()
        return result


def converse(router: Router) -> Router:
    """Give a router's messages and buttons the conversation middleware."""
    middleware = ConversationMiddleware()
    router.message.middleware(middleware)
    router.callback_query.middleware(middleware)
    return router
