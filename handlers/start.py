"""/start: the tipster's front door."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.types import Message

from core.i18n import Texts
from handlers.filters import PrivateChat


async def start(message: Message, texts: Texts) -> None:
    """Offer the main choices."""
    await message.answer(texts("start.welcome"))


def build_router() -> Router:
    """The /start router (private chats only)."""
    router = Router(name="start")
    router.message.filter(PrivateChat())
    router.message.register(start, CommandStart())
    return router
