"""/start (with a poster's case deep link), the main menu, /help and /cancel."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.public import get_public_case
from core.i18n import Texts
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.telegram.channel import acknowledge, send_text
from handlers.telegram.filters import ActionIs, CaseLink, PrivateChat
from handlers.telegram.keyboards import Menu, main_menu
from handlers.telegram.middleware import converse
from handlers.tipster.status import show_my_tips
from storage.models import Tipster

CASE_PREFIX = "case_"


async def start(message: Message, texts: Texts) -> None:
    """Offer the main choices."""
    await send_text(message.bot, message.chat.id, texts("start.welcome"), main_menu(texts))


async def start_for_case(
    message: Message, command: CommandObject, conversation: Conversation, session: AsyncSession
) -> None:
    """A poster's link t.me/bot?start=case_CODE: a report about that case."""
    code = (command.args or "")[len(CASE_PREFIX) :]
    turn = await Turn.of(conversation)
    await turn.about_case(session, await get_public_case(session, code=code), code)


async def menu_report(
    query: CallbackQuery, conversation: Conversation, session: AsyncSession
) -> None:
    """Report a sighting (or carry on with the one in progress)."""
    await acknowledge(query)
    await (await Turn.of(conversation)).start_or_resume(session)


async def menu_check(
    query: CallbackQuery, texts: Texts, session: AsyncSession, tipster: Tipster | None
) -> None:
    """Check a tip: the tipster's recent tips."""
    await acknowledge(query)
    if query.message is not None and query.bot is not None and tipster is not None:
        await show_my_tips(query.bot, query.message.chat.id, texts, session, tipster)


async def menu_about(query: CallbackQuery, texts: Texts) -> None:
    """About Tipline and privacy."""
    await acknowledge(query)
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, texts("about.text"))


async def show_help(message: Message, texts: Texts) -> None:
    """What the bot understands."""
    await message.answer(texts("help.text"))


async def cancel(message: Message, conversation: Conversation) -> None:
    """Cancel whatever is going on; nothing is sent."""
    turn = await Turn.of(conversation)
    await turn.cancel()


def build_router() -> Router:
    """/start, the menu, /help and /cancel (private chats only)."""
    router = converse(Router(name="start"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(start_for_case, CommandStart(deep_link=True), CaseLink())
    router.message.register(start, CommandStart())
    router.message.register(show_help, Command("help"))
    router.message.register(cancel, Command("cancel"))
    router.callback_query.register(menu_report, Menu.filter(), ActionIs("report"))
    router.callback_query.register(menu_check, Menu.filter(), ActionIs("check"))
    router.callback_query.register(menu_about, Menu.filter(), ActionIs("about"))
    return router
