"""The private-chat commands and buttons besides the three flows, for the chat router: each one
is a call into handlers.tipster, the same functions Telegram's adapters call.

Commands get what followed them (`/status K7Q2-9XRA`); buttons get their data's values
(`fam:<forward>:<answer>`). While /add or a moderator's question waits, what the person sends
goes onto that tip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from handlers.engine.inputs import Input, Media, Place, Text
from handlers.engine.wizard import Conversation
from handlers.report.views import ADDING
from handlers.tipster import answers, case_card, family, forget, language, start, status
from moderation.forwarding.family_leads import CALLBACK_PREFIX as FAMILY_LEAD

if TYPE_CHECKING:
    from handlers.chats.router import Chat

Use = Callable[[Conversation, str, "Chat"], Awaitable[None]]
ON_TIP = (status.ADDING, status.ANSWERING)
"""The states in which text, a place or a file goes onto a sent tip."""


async def _start(conversation: Conversation, argument: str, chat: Chat) -> None:
    services, tipster = chat.services, chat.tipster
    await start.start(
        conversation, chat.session, services=services, tipster=tipster, argument=argument
    )


async def _status(conversation: Conversation, argument: str, chat: Chat) -> None:
    await status.show_status(conversation, chat.session, tipster=chat.tipster, argument=argument)


async def _add(conversation: Conversation, argument: str, chat: Chat) -> None:
    await status.start_adding(conversation, chat.session, tipster=chat.tipster, argument=argument)


async def _language(conversation: Conversation, argument: str, chat: Chat) -> None:
    await language.offer_languages(conversation)


async def _forget(conversation: Conversation, argument: str, chat: Chat) -> None:
    await forget.ask_forget(conversation)


def _muting(muted: bool) -> Use:
    """/mute or /unmute: a family's leads paused or resumed."""

    async def mute(conversation: Conversation, argument: str, chat: Chat) -> None:
        await family.set_leads_muted(conversation, chat.session, tipster=chat.tipster, muted=muted)

    return mute


async def _case(conversation: Conversation, argument: str, chat: Chat) -> None:
    """/case CODE: a card with a photo goes as our display copy, then its text and button."""
    base_url = chat.services.base_url
    card = await case_card.show_case(conversation, chat.session, base_url=base_url, code=argument)
    if card is not None:
        await conversation.channel.send_photo(conversation.chat_id, card.display_sha256)
        await conversation.say(card.caption, card.buttons)


COMMANDS: dict[str, Use] = {
    "start": _start,
    "status": _status,
    "add": _add,
    "language": _language,
    "forget": _forget,
    "mute": _muting(True),
    "unmute": _muting(False),
    "case": _case,
}


async def _menu(conversation: Conversation, values: list[str], chat: Chat) -> None:
    """The main menu: report a sighting, check one's tips, about and privacy."""
    if values == ["report"]:
        await start.begin_report(conversation, chat.session)
    elif values == ["check"]:
        await status.show_my_tips(conversation, chat.session, tipster=chat.tipster)
    else:
        await start.about(conversation)


async def _done(conversation: Conversation, values: list[str], chat: Chat) -> None:
    await status.done_adding(conversation)


async def _answer(conversation: Conversation, values: list[str], chat: Chat) -> None:
    (ref,) = values
    await answers.start_answer(conversation, chat.session, tipster=chat.tipster, ref=ref)


async def _language_pick(conversation: Conversation, values: list[str], chat: Chat) -> None:
    (code,) = values
    await language.switch_language(conversation, chat.session, tipster=chat.tipster, code=code)


async def _forget_pick(conversation: Conversation, values: list[str], chat: Chat) -> None:
    (action,) = values
    session, services, tipster = chat.session, chat.services, chat.tipster
    await forget.decide_forget(
        conversation, session, services=services, tipster=tipster, action=action
    )


async def _family_answer(conversation: Conversation, values: list[str], chat: Chat) -> None:
    """A button under a family lead: fam:<forward id>:<mine|not_mine|unsure|scam>."""
    forward, answer = values
    if not forward.isdigit():
        await conversation.say(conversation.texts("family.unknown_lead"))
        return
    await family.family_feedback(
        conversation,
        chat.session,
        services=chat.services,
        tipster=chat.tipster,
        forward_id=int(forward),
        answer=answer,
    )


async def _case_report(conversation: Conversation, values: list[str], chat: Chat) -> None:
    (code,) = values
    await case_card.report_on_card(conversation, chat.session, code=code)


Press = Callable[[Conversation, list[str], "Chat"], Awaitable[None]]
PRESSES: dict[str, tuple[int, Press]] = {
    start.MENU: (1, _menu),
    ADDING: (1, _done),
    answers.ANSWER: (1, _answer),
    language.LANGUAGE: (1, _language_pick),
    forget.FORGET: (1, _forget_pick),
    FAMILY_LEAD: (2, _family_answer),
    case_card.CASE_REPORT: (1, _case_report),
}
"""Button prefix -> how many values its data carries, and its use."""


async def on_tip(conversation: Conversation, message: Input, chat: Chat) -> None:
    """What is sent while /add or a question waits: text is the addition (or the answer), a
    place or a file is added to the tip."""
    session, tipster = chat.session, chat.tipster
    if isinstance(message, Text) and conversation.state == status.ANSWERING:
        services = chat.services
        await answers.answer(
            conversation, session, services=services, tipster=tipster, text=message.text
        )
    elif isinstance(message, Text):
        await status.add_text(conversation, session, tipster=tipster, text=message.text)
    elif isinstance(message, Place):
        geocoder = chat.services.geocoder
        await status.add_place(
            conversation, session, tipster=tipster, point=message.point, geocoder=geocoder
        )
    elif isinstance(message, Media):
        await status.add_file(
            conversation, session, tipster=tipster, file=message.attachment, caption=message.caption
        )
