"""The channel-neutral router: plain input (handlers.engine.inputs) to the flow functions
Telegram's routers call, chosen by the button data's prefix, the conversation state and the
command. No flow logic lives here: each branch is one call into a flow module.

What goes where, as on Telegram: a button goes to the flow its prefix names; text, a place or
a file goes onto a sent tip while /add or a moderator's question waits, to /newcase or /alerts
while one of them is on screen, else to the report (which starts one); /cancel stops the flow on
screen (the report waits under /newcase and /alerts). The other private-chat commands and
buttons (/start, /status, /add, /language, /forget, /mute, /case, a family's answers...) are in
handlers.chats.private.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.messages import CALLBACK_PREFIX as ALERT
from handlers.alerts.flow import ALERTS, SETTINGS, Volunteer
from handlers.alerts.flow import Turn as AlertsTurn
from handlers.alerts.views import VOL
from handlers.chats.private import COMMANDS, ON_TIP, on_tip
from handlers.chats.private import PRESSES as PRIVATE_PRESSES
from handlers.context import BotServices, Sending
from handlers.engine.channel import SEPARATOR, Origin
from handlers.engine.inputs import Command, Input, Media, Place, Press, Text, Unreadable
from handlers.engine.wizard import Conversation, Wizard
from handlers.newcase import buttons as case_buttons
from handlers.newcase import steps as case_steps
from handlers.newcase import views as case_views
from handlers.newcase.flow import NEWCASE, CaseTurn
from handlers.report import buttons, steps
from handlers.report.flow import Turn
from handlers.report.views import CONFIRM, NAV, PICK
from storage.models import Tipster

W = TypeVar("W", bound=Wizard[Any])


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

    @property
    def volunteer(self) -> Volunteer:
        """The person as /alerts sees them."""
        return Volunteer(self.session, self.tipster.id, self.services.alerts_per_day)


async def route(conversation: Conversation, message: Input, chat: Chat) -> None:
    """Answer one input."""
    if isinstance(message, Press):
        await _press(conversation, message.data, chat)
    elif isinstance(message, Command):
        await _command(conversation, message, chat)
    elif isinstance(message, Unreadable):
        await conversation.say(conversation.texts(message.key))
    elif conversation.state in ON_TIP:
        await on_tip(conversation, message, chat)
    elif NEWCASE.view_of(conversation.state) is not None:
        await _case_input(conversation, message, chat)
    elif ALERTS.view_of(conversation.state) is not None:
        await _alerts_input(conversation, message, chat)
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


async def _case_input(conversation: Conversation, message: Input, chat: Chat) -> None:
    turn = await CaseTurn.going(conversation)
    if turn is None:
        return
    services, current = chat.services, turn.current
    if isinstance(message, Text):
        await case_steps.on_text(turn, message.text, services.geocoder, services.vault)
    elif isinstance(message, Place) and current in ("where", "where_pick"):
        await case_steps.on_place(turn, message.point, services.geocoder)
    elif isinstance(message, Media) and current == "photos":
        photo = case_steps.photo_of(message.attachment, message.caption)
        await case_steps.on_photo(turn, photo, None)
    else:
        media = isinstance(message, Media)
        await turn.refuse("newcase.photos_later" if media else "newcase.bad_input")


async def _alerts_input(conversation: Conversation, message: Input, chat: Chat) -> None:
    turn, who, geocoder = await AlertsTurn.of(conversation), chat.volunteer, chat.services.geocoder
    current = turn.current
    if isinstance(message, Place) and current in ("area", "area_pick"):
        await turn.at_point(message.point, geocoder, who)
    elif isinstance(message, Text) and current in ("area", "area_pick"):
        await turn.city(message.text, geocoder, who)
    elif isinstance(message, Text) and current == "radius":
        await turn.radius(message.text, who)
    elif isinstance(message, Text) and current == "quiet":
        await turn.quiet_typed(message.text, who)
    else:
        await turn.stay()


async def _command(conversation: Conversation, command: Command, chat: Chat) -> None:
    texts, name = conversation.texts, command.name
    private = COMMANDS.get(name)
    if private is not None:
        await private(conversation, command.argument, chat)
    elif name == "help":
        await conversation.say(texts("chat.help"))
    elif name == "newcase":
        await CaseTurn.start(conversation)
    elif name == "alerts":
        await (await AlertsTurn.of(conversation)).show(chat.volunteer)
    elif name != "cancel":
        await conversation.say(texts("chat.unknown_command"))
    elif NEWCASE.view_of(conversation.state) is not None:
        await (await CaseTurn.of(conversation)).finish(texts("newcase.cancelled"))
    elif ALERTS.view_of(conversation.state) is not None:
        await (await AlertsTurn.of(conversation)).cancel()
    else:
        await (await Turn.of(conversation)).cancel()


Route = Callable[[Conversation, list[str], Chat], Awaitable[None]]


def _nav(wizard: type[Wizard[Any]]) -> Route:
    """Back, skip or cancel on a flow's step: data `<prefix>:<step>:<action>`."""

    async def nav(conversation: Conversation, values: list[str], chat: Chat) -> None:
        await (await wizard.of(conversation)).navigate(*values)

    return nav


def _pick(wizard: type[W], on_pick: Callable[[W, str, str], Awaitable[None]]) -> Route:
    """A choice on a flow's step: data `<prefix>:<step>:<value>`."""

    async def pick(conversation: Conversation, values: list[str], chat: Chat) -> None:
        step, value = values
        await on_pick(await wizard.of(conversation), step, value)

    return pick


def _send(wizard: type[W], kind: str, send: Callable[[W, str, Sending], Awaitable[None]]) -> Route:
    """A flow's Send: the draft goes once, from this chat (data `<prefix>:<draft id>`)."""

    async def on_send(conversation: Conversation, values: list[str], chat: Chat) -> None:
        (draft_id,) = values
        await send(await wizard.of(conversation), draft_id, chat.sending(kind, draft_id))

    return on_send


async def _alerts(conversation: Conversation, values: list[str], chat: Chat) -> None:
    action, value = values
    turn = await AlertsTurn.of(conversation)
    if action in SETTINGS:
        await turn.setting(action, chat.volunteer)
    else:
        await turn.press(action, value, chat.volunteer)


async def _alert(conversation: Conversation, values: list[str], chat: Chat) -> None:
    """The buttons under an alert: report about its case, or pause alerts."""
    action, code = values
    if action == "report":
        await (await Turn.of(conversation)).about_code(chat.session, code)
    else:
        await (await AlertsTurn.of(conversation)).pause_from_alert(chat.volunteer)


# Button data is `<prefix>:<value>...`; each prefix takes this many values.
PRESSES: dict[str, tuple[int, Route]] = {
    **PRIVATE_PRESSES,
    NAV: (2, _nav(Turn)),
    PICK: (2, _pick(Turn, buttons.on_pick)),
    CONFIRM: (1, _send(Turn, "tip", buttons.on_confirm)),
    case_views.NAV: (2, _nav(CaseTurn)),
    case_views.PICK: (2, _pick(CaseTurn, case_buttons.on_pick)),
    case_views.SUBMIT: (1, _send(CaseTurn, "case", case_buttons.on_submit)),
    VOL: (2, _alerts),
    ALERT: (2, _alert),
}


async def _press(conversation: Conversation, data: str, chat: Chat) -> None:
    """A button's data to its flow; data no flow knows (or of the wrong shape) is stale."""
    prefix, *values = data.split(SEPARATOR)
    known = PRESSES.get(prefix)
    if known is None or len(values) != known[0]:
        await (await Turn.of(conversation)).stale()
        return
    await known[1](conversation, values, chat)
