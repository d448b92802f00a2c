"""/forget: a tipster erases their own identity, after confirming with a button."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from core.identity.erasure import erase_identity
from handlers.context import BotServices
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PrivateChat
from handlers.telegram.keyboards import button, markup
from storage.models import Tipster


class Forget(CallbackData, prefix="fg"):
    """The answer to "erase who you are?": yes or no."""

    action: str


async def ask(message: Message, texts: Texts) -> None:
    """Say what erasing does and keeps, and ask to confirm."""
    keyboard = markup(
        [button(texts("forget.yes"), Forget(action="yes"))],
        [button(texts("forget.no"), Forget(action="no"))],
    )
    await message.answer(texts("forget.ask"), reply_markup=keyboard)


async def decide(
    query: CallbackQuery,
    *,
    callback_data: Forget,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster | None,
    services: BotServices,
) -> None:
    """Erase on "yes" (tips stay, unlinkable); "no" erases nothing."""
    await acknowledge(query)
    if tipster is None or query.bot is None:
        return
    if callback_data.action != "yes":
        await query.bot.send_message(query.from_user.id, texts("forget.kept"))
        return
    await erase_identity(
        session,
        services.vault,
        tipster_id=tipster.id,
        actor_id=None,
        actor_role="tipster",
        originals=services.originals,
        conversations=services.conversations,
    )
    await query.bot.send_message(query.from_user.id, texts("forget.done"))


def build_router() -> Router:
    """/forget and its confirmation (private chats only)."""
    router = Router(name="forget")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(ask, Command("forget"))
    router.callback_query.register(decide, Forget.filter())
    return router
