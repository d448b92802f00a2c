"""/forget: a tipster erases their own identity, after confirming with a button."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from core.identity.erasure import erase_identity
from handlers.context import BotServices
from handlers.engine.channel import Keyboard, button, keyboard
from handlers.engine.keys import shared
from handlers.engine.wizard import Conversation
from storage.models import Tipster

FORGET = "fg"
"""The answer to "erase who you are?": fg:yes or fg:no."""


@shared
def _confirm(texts: Texts) -> Keyboard:
    return keyboard(
        [button(texts("forget.yes"), FORGET, "yes")],
        [button(texts("forget.no"), FORGET, "no")],
    )


async def ask_forget(conversation: Conversation) -> None:
    """Say what erasing does and keeps, and ask to confirm."""
    texts = conversation.texts
    await conversation.say(texts("forget.ask"), _confirm(texts))


async def decide_forget(
    conversation: Conversation,
    session: AsyncSession,
    *,
    services: BotServices,
    tipster: Tipster,
    action: str,
) -> None:
    """Erase on "yes" (tips stay, unlinkable); anything else erases nothing."""
    texts = conversation.texts
    if action != "yes":
        await conversation.say(texts("forget.kept"))
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
    await conversation.say(texts("forget.done"))
