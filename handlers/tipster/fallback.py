"""Everything else: shared contacts, edits, unknown commands and things the bot cannot use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.tipsters import add_to_identity
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from storage.models import Tipster


async def keep_contact(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    phone: str,
    name: str,
    own: bool,
    message_key: str,
) -> None:
    """A shared contact goes to the sealed identity vault, never into a tip. Someone else's
    card is kept too (it may matter to police), under its own key (`message_key`: the message's)."""
    if own:
        extra: dict[str, object] = {"phone": phone}
    else:
        extra = {f"shared_contact_{message_key}": {"phone": phone, "first_name": name}}
    await add_to_identity(session, services.vault, tipster_id=tipster.id, extra=extra)
    await conversation.say(conversation.texts("input.contact_kept"))


async def edited(conversation: Conversation) -> None:
    """Edits change nothing already received."""
    await conversation.say(conversation.texts("input.edited"))


async def unsupported(conversation: Conversation, *, text: str) -> None:
    """Stickers, polls, dice, GIFs, unknown commands: say what the bot can use."""
    key = "help.text" if text.startswith("/") else "input.unsupported"
    await conversation.say(conversation.texts(key))
