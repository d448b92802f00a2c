"""/language: English or Simplified Chinese."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from core.identity.tipsters import set_language
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import PrivateChat
from handlers.telegram.keyboards import Lang, languages
from storage.models import Tipster


async def choose(message: Message, texts: Texts) -> None:
    """Offer the languages."""
    await message.answer(texts("language.choose"), reply_markup=languages(texts))


async def switch(
    query: CallbackQuery, callback_data: Lang, session: AsyncSession, tipster: Tipster | None
) -> None:
    """Remember the choice and confirm it in the new language."""
    await acknowledge(query)
    if tipster is None or query.bot is None:
        return
    await set_language(session, tipster=tipster, language=callback_data.code)
    await query.bot.send_message(query.from_user.id, Texts(tipster.language)("language.set"))


def build_router() -> Router:
    """/language (private chats only)."""
    router = Router(name="language")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    router.message.register(choose, Command("language"))
    router.callback_query.register(switch, Lang.filter())
    return router
