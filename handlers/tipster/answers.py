"""A moderator's question about a tip (button ans:REF): the tipster's next text answers it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.report.views import finish
from handlers.tipster.status import ANSWERING, own_tip
from moderation.review.answers import GroupNotice, receive_answer
from storage.models import Tipster

ANSWER = "ans"
"""The question's button (sent by the moderation side): ans:<tip ref>."""


async def start_answer(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, ref: str
) -> None:
    """Wait for the answer (only to one's own tip; the report in progress is kept)."""
    found = await own_tip(conversation, session, tipster=tipster, ref=ref)
    if found is None:
        return
    turn, texts = await Turn.of(conversation), conversation.texts
    turn.suspend(found.ref, ANSWERING)
    await turn.say(texts("answer.ask", ref=found.ref), finish(texts))


def _group(services: BotServices) -> GroupNotice | None:
    if services.moderators_chat_id is None:
        return None
    return GroupNotice(chat_id=services.moderators_chat_id, base_url=services.base_url)


async def answer(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    text: str,
) -> None:
    """The answer lands on the tip and brings it back to the queue; staff see the pseudonym."""
    turn, texts = await Turn.of(conversation), conversation.texts
    ref = turn.talk.target_ref
    if ref is None:
        await turn.resume(note=texts("report.stale_button"))
        return
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
