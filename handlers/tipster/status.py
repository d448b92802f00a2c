"""/status REF and /add REF: a tipster's own tips, and what they add to them later."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.i18n import Texts
from core.tips.submission import add_to_tip, list_tip_statuses, tip_status
from handlers.common.where import place_of
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.report.views import finish
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import HasMedia, HasPlace, PlainText, PrivateChat
from handlers.telegram.inputs import attachment_of, point_of
from handlers.telegram.keyboards import AddDone
from handlers.telegram.middleware import converse
from handlers.telegram.states import Adding, Answering
from storage.models import Tipster


def _line(texts: Texts, ref: str, status: str, day: str) -> str:
    return texts("status.line", ref=ref, status=texts(f"status.{status}"), date=day)


async def show_my_tips(
    bot: Bot, chat_id: int, texts: Texts, session: AsyncSession, tipster: Tipster
) -> None:
    """The tipster's recent tips and their public status."""
    tips = await list_tip_statuses(session, tipster_id=tipster.id)
    if not tips:
        await bot.send_message(chat_id, texts("status.none"))
        return
    lines = [_line(texts, t.ref, t.status, f"{t.submitted_at:%Y-%m-%d}") for t in tips]
    await bot.send_message(chat_id, "\n".join([texts("status.title"), *lines]))


async def status(
    message: Message,
    *,
    command: CommandObject,
    bot: Bot,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """/status REF: one's own tip; anyone else learns nothing. /status: one's recent tips."""
    if not command.args:
        await show_my_tips(bot, message.chat.id, texts, session, tipster)
        return
    try:
        found = await tip_status(session, ref=command.args[:20], tipster_id=tipster.id)
    except NotFound:
        await message.answer(texts("status.not_found"))
        return
    day = f"{found.submitted_at:%Y-%m-%d}"
    await message.answer(_line(texts, found.ref, found.status, day) + "\n\n" + texts("status.next"))


async def add(
    message: Message,
    *,
    command: CommandObject,
    conversation: Conversation,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """/add REF: what comes next goes onto that tip, until Done."""
    if not command.args:
        await message.answer(texts("add.usage"))
        return
    try:
        found = await tip_status(session, ref=command.args[:20], tipster_id=tipster.id)
    except NotFound:
        await message.answer(texts("status.not_found"))
        return
    turn = await Turn.of(conversation)
    turn.suspend(found.ref, "Adding:tip")
    await turn.say(texts("add.ask", ref=found.ref), finish(texts))


async def _add(turn: Turn, session: AsyncSession, tipster: Tipster, **addition: Any) -> None:
    ref = turn.talk.target_ref
    if ref is None:
        await turn.resume(note=turn.texts("report.stale_button"))
        return
    try:
        await add_to_tip(session, ref=ref, tipster_id=tipster.id, **addition)
    except NotFound:
        await turn.resume(note=turn.texts("status.not_found"))
        return
    await turn.say(turn.texts("add.added", ref=ref), finish(turn.texts))


async def add_text(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """More words for a sent tip."""
    turn = await Turn.of(conversation)
    await _add(turn, session, tipster, text=message.text or "")


async def add_place(
    message: Message,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A place for a sent tip (kept as an addition; the tip's own place is not overwritten)."""
    turn = await Turn.of(conversation)
    place = await place_of(point_of(message), services.geocoder)
    await _add(turn, session, tipster, place=place)


async def add_media(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """Photos or videos for a sent tip (one reply per album)."""
    found = attachment_of(message)
    if isinstance(found, str):
        await conversation.say(conversation.texts(found))
        return
    turn = await Turn.of(conversation)
    album = message.media_group_id
    if album and turn.talk.album == album:
        ref = turn.talk.target_ref or ""
        await add_to_tip(session, ref=ref, tipster_id=tipster.id, attachments=[found])
        return
    turn.talk.album = album
    await _add(turn, session, tipster, text=message.caption or "", attachments=[found])


async def add_done(query: CallbackQuery, conversation: Conversation) -> None:
    """Done adding (or answering): back to where the tipster was."""
    await acknowledge(query)
    turn, texts = await Turn.of(conversation), conversation.texts
    ref = turn.talk.target_ref
    await turn.resume(note=texts("add.done", ref=ref) if ref else texts("report.stale_button"))


def build_router() -> Router:
    """/status, /add and what is added (private chats only)."""
    router = converse(Router(name="status"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(status, Command("status"))
    router.message.register(add, Command("add"))
    router.message.register(add_text, PlainText(), StateFilter(Adding.tip))
    on_tip = StateFilter(Adding.tip, Answering.tip)
    router.message.register(add_place, HasPlace(), on_tip)
    router.message.register(add_media, HasMedia(), on_tip)
    router.callback_query.register(add_done, AddDone.filter())
    return router
