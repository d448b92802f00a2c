"""/language: English or Simplified Chinese."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.i18n import Texts
from core.identity.tipsters import set_language
from handlers.engine.channel import Keyboard, button, keyboard
from handlers.engine.keys import shared
from handlers.engine.wizard import Conversation
from storage.models import Tipster

LANGUAGE = "l"
"""The language buttons: l:en, l:zh-Hans."""


@shared
def languages(texts: Texts) -> Keyboard:
    """English / 简体中文."""
    return keyboard(
        [
            button(texts("language.en"), LANGUAGE, "en"),
            button(texts("language.zh"), LANGUAGE, "zh-Hans"),
        ]
    )


async def offer_languages(conversation: Conversation) -> None:
    """Offer the languages."""
    texts = conversation.texts
    await conversation.say(texts("language.choose"), languages(texts))


async def switch_language(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, code: str
) -> None:
    """Remember the choice (an unknown one is English) and confirm it in the new language."""
    await set_language(session, tipster=tipster, language=code)
    await conversation.say(Texts(tipster.language)("language.set"))
