"""Per-update context: the tipster, their language's texts, the services, and abuse limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.tipsters import TipsterCache
from core.i18n import Texts
from core.identity.tipsters import get_or_create_tipster, pick_language
from handlers.context import BotServices
from handlers.tipster.limits import message_key, overall_wait

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def identity_of(user: User, chat: Chat) -> dict[str, Any]:
    """What the vault keeps about a Telegram tipster (never shown to staff by default)."""
    return {
        "chat_id": chat.id,
        "user_id": user.id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


class ContextMiddleware(BaseMiddleware):
    """Resolve the pseudonymous tipster of a private chat and inject what handlers need."""

    def __init__(self, services: BotServices) -> None:
        self.services = services
        self.tipsters = TipsterCache()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Inject services, texts, tipster and the rate-limit verdict."""
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        data["services"] = self.services
        data["texts"] = Texts(pick_language(user.language_code if user else None))
        data["tipster"] = None
        session: AsyncSession | None = data.get("session")
        if user is None or chat is None or chat.type != "private" or session is None or user.is_bot:
            return await handler(event, data)
        # Keyed by the Telegram id in memory: the vault's keyed hash is needed only to find a row.
        tipster = self.tipsters.attach(session, user.id)
        if tipster is None:
            tipster = await get_or_create_tipster(
                session,
                self.services.vault,
                channel="telegram",
                external_id=str(user.id),
                identity=identity_of(user, chat),
                language=pick_language(user.language_code),
            )
            self.tipsters.remember(user.id, tipster)
        data["tipster"] = tipster
        data["texts"] = Texts(tipster.language)
        limits = self.services.limits
        allowed = await self.services.limiter.hit(
            message_key(tipster.id), limit=limits.messages_per_minute, window=60
        )
        data["over_limit"] = not allowed
        # Tell a flooding tipster once per minute, then stay silent.
        data["notify_limit"] = not allowed and await self.services.limiter.hit(
            f"notice:{tipster.id}", limit=1, window=60
        )
        data["busy_wait"] = 0.0
        if allowed and isinstance(event, Update) and (event.message or event.callback_query):
            # A press answers the bot's own question: a conversation under way, as a state is.
            under_way = data.get("raw_state") is not None or event.callback_query is not None
            data["busy_wait"] = await overall_wait(
                self.services, tipster_id=tipster.id, under_way=under_way
            )
        return await handler(event, data)
