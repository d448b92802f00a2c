"""The channel-neutral router: plain input (handlers.engine.inputs) to the flow functions
Telegram's routers call, chosen by the button data's prefix, the conversation state and the
command. No flow logic lives here: each branch is one call into a flow module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import BotServices, Sending
from handlers.engine.channel import SEPARATOR, Keyboard, Origin, button, keyboard
from handlers.engine.inputs import Command, Input, Media, Place, Press, Text, Unreadable
from handlers.engine.wizard import Conversation
from handlers.report import buttons, steps
from handlers.report.flow import Turn
from handlers.report.views import CONFIRM, NAV, PICK
from storage.models import Tipster

MENU = "m"


@dataclass(frozen=True, slots=True)
class Chat:
    """What routing one input needs beside its conversation: the session it commits in, the
    person, the services, and where a draft sent from this chat comes from."""

    session: AsyncSession
    tipster: Tipster
    services: BotServices
    origin: Callable[[str, str], Origin]
    """(kind, draft id) -> the Origin of a draft of that kind ("tip", "case")."""

    def sending(self, kind: str, draft_id: str) -> Sending:
        """What sending a draft needs."""
        return Sending(self.origin(kind, draft_id), self.session, self.tipster, self.services)


Route = Callable[[Conversation, list[str], Chat], Awaitable[None]]


async def route(conversation: Conversation, message: Input, chat: Chat) -> None:
    """Answer one input."""
    if isinstance(message, Press):
        await _press(conversation, message.data, chat)
    elif isinstance(message, Command):
        await _command(conversation, message.name, chat)
    elif isinstance(message, Unreadable):
        await conversation.say(conversation.texts(message.key))
    else:
        await _report_input(conversation, message, chat)


async def _report_input(conversation: Conversation, message: Input, chat: Chat) -> None:
    turn = await Turn.of(conversation)
    geocoder, session = chat.services.geocoder, chat.session
    if isinstance(message, Text):
        await steps.on_text(turn, message.text, session, geocoder)
    elif isinstance(message, Place):
        await steps.on_place(turn, message.point, session, geocoder)
    elif isinstance(message, Media):
        await steps.on_media(turn, message.attachment, message.caption, session)


def menu(conversation: Conversation) -> Keyboard:
    """/start's choices: report a sighting, about and privacy."""
    texts = conversation.texts
    return keyboard(
        [button(texts("menu.report"), MENU, "report")],
        [button(texts("menu.about"), MENU, "about")],
    )


async def _command(conversation: Conversation, name: str, chat: Chat) -> None:
    texts = conversation.texts
    if name == "start":
        await conversation.say(texts("start.welcome"), menu(conversation))
    elif name == "cancel":
        await (await Turn.of(conversation)).cancel()
    elif name == "help":
        await conversation.say(texts("chat.help"))
    else:
        await conversation.say(texts("chat.telegram_only"))


async def _menu(conversation: Conversation, values: list[str], chat: Chat) -> None:
    if values == ["report"]:
        await (await Turn.of(conversation)).start_or_resume(chat.session)
    elif values == ["about"]:
        await conversation.say(conversation.texts("about.text"))
    else:
        await (await Turn.of(conversation)).stale()


async def _report_nav(conversation: Conversation, values: list[str], chat: Chat) -> None:
    await (await Turn.of(conversation)).navigate(*values)


async def _report_pick(conversation: Conversation, values: list[str], chat: Chat) -> None:
    await buttons.on_pick(await Turn.of(conversation), *values)


async def _report_send(conversation: Conversation, values: list[str], chat: Chat) -> None:
    (draft_id,) = values
    turn = await Turn.of(conversation)
    await buttons.on_confirm(turn, draft_id, chat.sending("tip", draft_id))


# Button data is `<prefix>:<value>...`; each prefix takes this many values.
PRESSES: dict[str, tuple[int, Route]] = {
    MENU: (1, _menu),
    NAV: (2, _report_nav),
    PICK: (2, _report_pick),
    CONFIRM: (1, _report_send),
}


async def _press(conversation: Conversation, data: str, chat: Chat) -> None:
    """A button's data to its flow; data no flow knows (or of the wrong shape) is stale."""
    prefix, *values = data.split(SEPARATOR)
    known = PRESSES.get(prefix)
    if known is None or len(values) != known[0]:
        await (await Turn.of(conversation)).stale()
        return
    await known[1](conversation, values, chat)
