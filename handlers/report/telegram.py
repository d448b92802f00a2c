"""The report on Telegram: its buttons, and what a tipster sends in a report or to start one."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.report import buttons, steps
from handlers.report.flow import Turn
from handlers.telegram.channel import acknowledge, send_button
from handlers.telegram.filters import HasMedia, HasPlace, PlainText, TipsterChat
from handlers.telegram.inputs import attachment_of, point_of, text_of
from handlers.telegram.keyboards import Confirm, Nav, Pick
from handlers.telegram.middleware import converse
from handlers.telegram.states import Report


async def on_nav(query: CallbackQuery, callback_data: Nav, conversation: Conversation) -> None:
    """Back, skip or cancel; a button from an earlier step does nothing."""
    await acknowledge(query)
    turn = await Turn.of(conversation)
    await turn.navigate(callback_data.step, callback_data.action)


async def on_pick(query: CallbackQuery, callback_data: Pick, conversation: Conversation) -> None:
    """A choice on the current step."""
    await acknowledge(query)
    await buttons.on_pick(await Turn.of(conversation), callback_data.step, callback_data.value)


async def on_text(
    message: Message, conversation: Conversation, session: AsyncSession, services: BotServices
) -> None:
    """Text in a report, or to start one."""
    turn = await Turn.of(conversation)
    await steps.on_text(turn, text_of(message), session, services.geocoder)


async def on_place(
    message: Message, conversation: Conversation, session: AsyncSession, services: BotServices
) -> None:
    """A pin, live location or venue: the place of the sighting (and cases near it)."""
    turn = await Turn.of(conversation)
    await steps.on_place(turn, point_of(message), session, services.geocoder)


async def on_media(message: Message, conversation: Conversation, session: AsyncSession) -> None:
    """A photo, video, voice note or picture file (a file of another kind is refused)."""
    found = attachment_of(message)
    if isinstance(found, str):
        await conversation.say(conversation.texts(found))
        return
    await steps.on_media(await Turn.of(conversation), found, message.caption or "", session)


def build_router() -> Router:
    """The report's buttons, and what the tipster sends in a report or to start one (private
    chats within the rate limit only)."""
    router = converse(Router(name="report"))
    router.callback_query.filter(TipsterChat())
    router.message.filter(TipsterChat())
    router.callback_query.register(on_nav, Nav.filter())
    router.callback_query.register(on_pick, Pick.filter())
    on_confirm = send_button(Turn.of, "tip", buttons.on_confirm)
    router.callback_query.register(on_confirm, Confirm.filter())
    in_report = StateFilter(None, Report)
    router.message.register(on_text, PlainText(), in_report)
    router.message.register(on_place, HasPlace(), in_report)
    router.message.register(on_media, HasMedia(), in_report)
    return router
