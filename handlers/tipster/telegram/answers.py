"""Answers to a moderator's question on Telegram: the question's button, then the answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PlainText
from handlers.telegram.keyboards import Answer
from handlers.telegram.states import Answering
from handlers.tipster import answers as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster


async def on_question(
    query: CallbackQuery,
    *,
    callback_data: Answer,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """The question's "Answer" button: wait for the answer."""
    await acknowledge(query)
    await use.start_answer(conversation, session, tipster=tipster, ref=callback_data.ref)


async def on_answer(
    message: Message,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """The answer's text."""
    text = message.text or ""
    await use.answer(conversation, session, services=services, tipster=tipster, text=text)


def build_router() -> Router:
    """Answers to moderators (private chats only)."""
    router = private_router("answers")
    router.callback_query.register(on_question, Answer.filter())
    router.message.register(on_answer, PlainText(), StateFilter(Answering.tip))
    return router
