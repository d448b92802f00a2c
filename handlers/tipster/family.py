"""Families: a family's link code joins them to the case; their one-tap answers to leads ("mine",
"not mine", "not sure", "report a scam"); /mute and /unmute."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound, RateLimited
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from moderation.cases.families import DEEP_LINK_PREFIX, link_family, set_muted
from moderation.cases.scam_reports import report_scam
from moderation.forwarding.family_leads import SCAM
from moderation.forwarding.forward import answer_lead
from storage.models import Tipster

FAMILY_PREFIX = DEEP_LINK_PREFIX
"""A family's link: /start family_CODE."""


async def link_family_code(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    code: str,
) -> None:
    """Link this person to the code's case and tell them how Tipline will (never) contact them."""
    texts = conversation.texts
    try:
        linked = await link_family(session, tipster=tipster, code=code, limiter=services.limiter)
    except RateLimited:
        await conversation.say(texts("family.too_many_tries"))
        return
    except InvalidInput:
        await conversation.say(texts("family.link_invalid"))
        return
    key = "family.already_linked" if linked.already else "family.linked"
    await conversation.say(texts(key, name=linked.case_name, case=linked.case_ref))


async def family_feedback(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    forward_id: int,
    answer: str,
) -> None:
    """That's my child / Not my child / Not sure: kept on the lead, thanked. Report a scam:
    kept, the moderators told."""
    texts = conversation.texts
    if answer == SCAM:
        await _report_scam(
            conversation, session, services=services, tipster=tipster, forward_id=forward_id
        )
        return
    try:
        await answer_lead(session, tipster=tipster, forward_id=forward_id, answer=answer)
    except (NotFound, InvalidInput):
        await conversation.say(texts("family.unknown_lead"))
        return
    await conversation.say(texts(f"family.thanks_{answer}"))


async def _report_scam(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    forward_id: int,
) -> None:
    texts = conversation.texts
    try:
        done = await report_scam(
            session,
            tipster=tipster,
            forward_id=forward_id,
            moderators_chat_id=services.moderators_chat_id,
        )
    except NotFound:
        await conversation.say(texts("family.unknown_lead"))
        return
    await conversation.say(texts("family.scam_already" if done.already else "family.scam_reported"))


async def set_leads_muted(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, muted: bool
) -> None:
    """/mute pauses leads for every case this person is linked to; /unmute resumes them."""
    linked = await set_muted(session, tipster=tipster, muted=muted)
    done = "family.muted" if muted else "family.unmuted"
    await conversation.say(conversation.texts(done if linked else "family.not_linked"))
