"""Families in the bot: /start family_CODE links a case; one-tap answers to leads; /mute."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound, RateLimited
from core.i18n import Texts
from handlers.context import BotServices
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PrivateChat
from moderation.cases.families import DEEP_LINK_PREFIX, link_family, set_muted
from moderation.cases.scam_reports import report_scam
from moderation.forwarding.family_leads import CALLBACK_PREFIX, SCAM
from moderation.forwarding.forward import answer_lead
from storage.models import Tipster


class FamilyAnswer(CallbackData, prefix=CALLBACK_PREFIX):
    """A family member's answer to a lead: fam:<forward id>:<mine|not_mine|unsure>."""

    forward: int
    answer: str


class FamilyLink(Filter):
    """A /start deep link from a family code (t.me/bot?start=family_CODE); after CommandStart."""

    async def __call__(self, event: TelegramObject, command: object = None, **_: object) -> bool:
        """True when the start payload is a family code."""
        args = getattr(command, "args", None) or ""
        return args.lower().startswith(DEEP_LINK_PREFIX)


async def start_family(
    message: Message,
    command: CommandObject,
    *,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """Link this person to the code's case and tell them how Tipline will (never) contact them."""
    code = (command.args or "")[len(DEEP_LINK_PREFIX) :]
    try:
        linked = await link_family(session, tipster=tipster, code=code, limiter=services.limiter)
    except RateLimited:
        await message.answer(texts("family.too_many_tries"))
        return
    except InvalidInput:
        await message.answer(texts("family.link_invalid"))
        return
    key = "family.already_linked" if linked.already else "family.linked"
    await message.answer(texts(key, name=linked.case_name, case=linked.case_ref))


async def _report_scam(
    forward_id: int, *, texts: Texts, session: AsyncSession, tipster: Tipster, chat: int | None
) -> str:
    try:
        done = await report_scam(
            session, tipster=tipster, forward_id=forward_id, moderators_chat_id=chat
        )
    except NotFound:
        return texts("family.unknown_lead")
    return texts("family.scam_already" if done.already else "family.scam_reported")


async def answer(
    query: CallbackQuery,
    callback_data: FamilyAnswer,
    *,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """That's my child / Not my child / Not sure: kept on the lead, thanked. Report a scam:
    kept, the moderators told."""
    await acknowledge(query)
    if callback_data.answer == SCAM:
        reply = await _report_scam(
            callback_data.forward,
            texts=texts,
            session=session,
            tipster=tipster,
            chat=services.moderators_chat_id,
        )
        if query.bot is not None:
            await query.bot.send_message(query.from_user.id, reply)
        return
    try:
        await answer_lead(
            session, tipster=tipster, forward_id=callback_data.forward, answer=callback_data.answer
        )
    except (NotFound, InvalidInput):
        reply = texts("family.unknown_lead")
    else:
        reply = texts(f"family.thanks_{callback_data.answer}")
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, reply)


async def mute(message: Message, texts: Texts, session: AsyncSession, tipster: Tipster) -> None:
    """Pause leads for every case this person is linked to."""
    linked = await set_muted(session, tipster=tipster, muted=True)
    await message.answer(texts("family.muted" if linked else "family.not_linked"))


async def unmute(message: Message, texts: Texts, session: AsyncSession, tipster: Tipster) -> None:
    """Receive leads again."""
    linked = await set_muted(session, tipster=tipster, muted=False)
    await message.answer(texts("family.unmuted" if linked else "family.not_linked"))


def build_router() -> Router:
    """Family commands and buttons (private chats only); before /start's own deep links."""
    router = Router(name="family")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(start_family, CommandStart(deep_link=True), FamilyLink())
    router.message.register(mute, Command("mute"))
    router.message.register(unmute, Command("unmute"))
    router.callback_query.register(answer, FamilyAnswer.filter())
    return router
