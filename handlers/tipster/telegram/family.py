"""Family members' answers to leads, /mute and /unmute on Telegram (a family's link code comes
with /start)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.tipster import family as use
from handlers.tipster.telegram import private_router
from moderation.forwarding.family_leads import CALLBACK_PREFIX
from storage.models import Tipster


class FamilyAnswer(CallbackData, prefix=CALLBACK_PREFIX):
    """A family member's answer to a lead: fam:<forward id>:<mine|not_mine|unsure|scam>."""

    forward: int
    answer: str


async def on_answer(
    query: CallbackQuery,
    callback_data: FamilyAnswer,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A button under a lead."""
    await acknowledge(query)
    await use.family_feedback(
        conversation,
        session,
        services=services,
        tipster=tipster,
        forward_id=callback_data.forward,
        answer=callback_data.answer,
    )


async def on_mute(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """/mute."""
    await use.set_leads_muted(conversation, session, tipster=tipster, muted=True)


async def on_unmute(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """/unmute."""
    await use.set_leads_muted(conversation, session, tipster=tipster, muted=False)


def build_router() -> Router:
    """Family commands and buttons (private chats only)."""
    router = private_router("family")
    router.message.register(on_mute, Command("mute"))
    router.message.register(on_unmute, Command("unmute"))
    router.callback_query.register(on_answer, FamilyAnswer.filter())
    return router
