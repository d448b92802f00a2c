"""/status, /add and what is added to a sent tip, on Telegram."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import HasMedia, HasPlace, PlainText
from handlers.telegram.inputs import attachment_of, point_of
from handlers.telegram.keyboards import AddDone
from handlers.telegram.states import Adding, Answering
from handlers.tipster import status as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster

COMMANDS = {"status": use.show_status, "add": use.start_adding}
"""/status [REF]: one's own tips; /add REF: what comes next goes onto that tip."""


async def on_command(
    message: Message,
    command: CommandObject,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """/status or /add with its reference."""
    use_of = COMMANDS[command.command]
    await use_of(conversation, session, tipster=tipster, argument=command.args)


async def on_text(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """More words for a sent tip."""
    await use.add_text(conversation, session, tipster=tipster, text=message.text or "")


async def on_place(
    message: Message,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A pin, live location or venue for a sent tip."""
    point = point_of(message)
    await use.add_place(
        conversation, session, tipster=tipster, point=point, geocoder=services.geocoder
    )


async def on_media(
    message: Message, conversation: Conversation, session: AsyncSession, tipster: Tipster
) -> None:
    """A photo, video or picture file for a sent tip."""
    file, caption = attachment_of(message), message.caption or ""
    await use.add_file(conversation, session, tipster=tipster, file=file, caption=caption)


async def on_done(query: CallbackQuery, conversation: Conversation) -> None:
    """Done adding (or answering)."""
    await acknowledge(query)
    await use.done_adding(conversation)


def build_router() -> Router:
    """/status, /add and what is added (private chats only)."""
    router = private_router("status")
    router.message.register(on_command, Command(*COMMANDS))
    router.message.register(on_text, PlainText(), StateFilter(Adding.tip))
    on_tip = StateFilter(Adding.tip, Answering.tip)
    router.message.register(on_place, HasPlace(), on_tip)
    router.message.register(on_media, HasMedia(), on_tip)
    router.callback_query.register(on_done, AddDone.filter())
    return router
