"""/forget and its confirmation on Telegram."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.tipster import forget as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster


class Forget(CallbackData, prefix=use.FORGET):
    """The answer to "erase who you are?": yes or no."""

    action: str


async def on_forget(message: Message, conversation: Conversation) -> None:
    """/forget: ask to confirm."""
    await use.ask_forget(conversation)


async def on_decision(
    query: CallbackQuery,
    *,
    callback_data: Forget,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster | None,
    services: BotServices,
) -> None:
    """Yes or no."""
    await acknowledge(query)
    if tipster is not None:
        await use.decide_forget(
            conversation, session, services=services, tipster=tipster, action=callback_data.action
        )


def build_router() -> Router:
    """/forget and its confirmation (private chats only)."""
    router = private_router("forget")
    router.message.register(on_forget, Command("forget"))
    router.callback_query.register(on_decision, Forget.filter())
    return router
