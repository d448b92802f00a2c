"""/language on Telegram."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.keyboards import Lang
from handlers.tipster import language as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster


async def on_language(message: Message, conversation: Conversation) -> None:
    """/language: offer the languages."""
    await use.offer_languages(conversation)


async def on_choice(
    query: CallbackQuery,
    callback_data: Lang,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster | None,
) -> None:
    """A language's button."""
    await acknowledge(query)
    if tipster is not None:
        await use.switch_language(conversation, session, tipster=tipster, code=callback_data.code)


def build_router() -> Router:
    """/language (private chats only)."""
    router = private_router("language")
    router.message.register(on_language, Command("language"))
    router.callback_query.register(on_choice, Lang.filter())
    return router
