"""A moderator's question about a tip (button ans:REF): the tipster's next text answers it."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from core.tips.submission import tip_status
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.report.views import finish
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PlainText, PrivateChat
from handlers.telegram.keyboards import Answer
from handlers.telegram.middleware import converse
from handlers.telegram.states import Answering
from moderation.review.answers import GroupNotice, receive_answer
from storage.models import Tipster


async def start_answer(
    query: CallbackQuery,
    *,
    callback_data: Answer,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """Wait for the answer (only to one's own tip; the report in progress is kept)."""
    await acknowledge(query)
    turn, texts = await Turn.of(conversation), conversation.texts
    try:
        found = await tip_status(session, ref=callback_data.ref, tipster_id=tipster.id)
    except NotFound:
        await turn.say(texts("status.not_found"))
        return
    turn.suspend(found.ref, "Answering:tip")
    await turn.say(texts("answer.ask", ref=found.ref), finish(texts))


def _group(services: BotServices | None) -> GroupNotice | None:
    if services is None or services.moderators_chat_id is None:
        return None
    return GroupNotice(chat_id=services.moderators_chat_id, base_url=services.base_url)


async def answer_text(
    message: Message,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices | None = None,
) -> None:
    """The answer lands on the tip and brings it back to the queue; staff see the pseudonym."""
    turn, texts = await Turn.of(conversation), conversation.texts
    ref = turn.talk.target_ref
    if ref is None:
        await turn.resume(note=texts("report.stale_button"))
        return
    text = message.text or ""
    try:
        await receive_answer(
            session, ref=ref, tipster_id=tipster.id, text=text, group=_group(services)
        )
    except NotFound:
        await turn.resume(note=texts("status.not_found"))
        return
    except InvalidInput:
        await turn.say(texts("answer.ask", ref=ref), finish(texts))
        return
    await turn.resume(note=texts("answer.saved", ref=ref))


def build_router() -> Router:
    """Answers to moderators (private chats only)."""
    router = converse(Router(name="answers"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.callback_query.register(start_answer, Answer.filter())
    router.message.register(answer_text, PlainText(), StateFilter(Answering.tip))
    return router
