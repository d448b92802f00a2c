"""/start, the main menu's buttons, /help and /cancel on Telegram."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import ActionIs
from handlers.telegram.keyboards import Menu
from handlers.tipster import start as use
from handlers.tipster.status import show_my_tips
from handlers.tipster.telegram import private_router
from storage.models import Tipster


async def on_start(
    message: Message,
    *,
    command: CommandObject,
    conversation: Conversation,
    session: AsyncSession,
    services: BotServices,
    tipster: Tipster,
) -> None:
    """/start, with what a deep link carried (a family's code, a case's)."""
    await use.start(
        conversation, session, services=services, tipster=tipster, argument=command.args
    )


async def on_report(
    query: CallbackQuery, conversation: Conversation, session: AsyncSession
) -> None:
    """Report a sighting."""
    await acknowledge(query)
    await use.begin_report(conversation, session)


async def on_check(
    query: CallbackQuery, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """Check a tip: the tipster's recent tips."""
    await acknowledge(query)
    await show_my_tips(conversation, session, tipster=tipster)


async def on_about(query: CallbackQuery, conversation: Conversation) -> None:
    """About Tipline and privacy."""
    await acknowledge(query)
    await use.about(conversation)


async def on_help(message: Message, conversation: Conversation) -> None:
    """What the bot understands."""
    await use.show_help(conversation)


async def on_cancel(message: Message, conversation: Conversation) -> None:
    """Cancel whatever is going on."""
    await use.cancel(conversation)


def build_router() -> Router:
    """/start, the menu, /help and /cancel (private chats only)."""
    router = private_router("start")
    router.message.register(on_start, CommandStart())
    router.message.register(on_help, Command("help"))
    router.message.register(on_cancel, Command("cancel"))
    router.callback_query.register(on_report, Menu.filter(), ActionIs("report"))
    router.callback_query.register(on_check, Menu.filter(), ActionIs("check"))
    router.callback_query.register(on_about, Menu.filter(), ActionIs("about"))
    return router
