"""The last router on Telegram: shared contacts, edits, and whatever no one else took."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.filters import HasContact, PrivateChat
from handlers.telegram.middleware import ConversationMiddleware
from handlers.tipster import fallback as use
from handlers.tipster.telegram import private_router
from storage.models import Tipster


async def on_contact(
    message: Message,
    *,
    conversation: Conversation,
    session: AsyncSession,
    tipster: Tipster | None,
    services: BotServices,
) -> None:
    """A shared contact card (the tipster's own, or someone else's)."""
    card = message.contact
    if card is None or tipster is None:
        return
    own = message.from_user is not None and card.user_id == message.from_user.id
    await use.keep_contact(
        conversation,
        session,
        services=services,
        tipster=tipster,
        phone=card.phone_number,
        name=card.first_name,
        own=own,
        message_key=str(message.message_id),
    )


async def on_edit(message: Message, conversation: Conversation) -> None:
    """An edit; a moving live location is not one to answer."""
    if message.location is None:
        await use.edited(conversation)


async def on_other(message: Message, conversation: Conversation) -> None:
    """Stickers, polls, dice, GIFs, unknown commands."""
    await use.unsupported(conversation, text=message.text or "")


def build_router() -> Router:
    """The last router: nothing from a private chat goes unanswered (groups are ignored)."""
    router = private_router("fallback")
    router.edited_message.filter(PrivateChat())
    router.edited_message.middleware(ConversationMiddleware())
    router.message.register(on_contact, HasContact())
    router.message.register(on_other)
    router.edited_message.register(on_edit)
    return router
