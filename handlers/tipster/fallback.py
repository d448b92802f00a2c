"""Everything else: shared contacts, edits, unknown commands and things the bot cannot use."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from core.identity.tipsters import add_to_identity
from handlers.context import BotServices
from handlers.telegram.filters import HasContact, PrivateChat
from storage.models import Tipster


async def contact(
    message: Message,
    *,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster | None,
    services: BotServices,
) -> None:
    """A shared contact goes to the sealed identity vault, never into a tip."""
    card = message.contact
    if card is None or tipster is None:
        return
    own = message.from_user is not None and card.user_id == message.from_user.id
    details = {"phone": card.phone_number, "first_name": card.first_name}
    # Someone else's card is kept too (it may matter to police), under its own key.
    key = "phone" if own else f"shared_contact_{message.message_id}"
    extra = {key: card.phone_number} if own else {key: details}
    await add_to_identity(session, services.vault, tipster_id=tipster.id, extra=extra)
    await message.answer(texts("input.contact_kept"))


async def edited(message: Message, texts: Texts) -> None:
    """Edits change nothing already received; a moving live location is not an edit to answer."""
    if message.location is not None:
        return
    await message.answer(texts("input.edited"))


async def unsupported(message: Message, texts: Texts) -> None:
    """Stickers, polls, dice, GIFs, unknown commands: say what the bot can use."""
    key = "help.text" if (message.text or "").startswith("/") else "input.unsupported"
    await message.answer(texts(key))


def build_router() -> Router:
    """The last router: nothing from a private chat goes unanswered (groups are ignored)."""
    router = Router(name="fallback")
    router.message.filter(PrivateChat())
    router.edited_message.filter(PrivateChat())
    router.message.register(contact, HasContact())
    router.message.register(unsupported)
    router.edited_message.register(edited)
    return router
