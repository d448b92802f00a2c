"""/newcase on Telegram: a family registers a missing child (or a found person looks for family).

Nothing is public until a moderator has checked the police report.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, StateFilter
from aiogram.types import CallbackQuery, Message

from core.cases.contacts import from_card
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.newcase import buttons, steps
from handlers.newcase.flow import CaseTurn
from handlers.newcase.views import NAV, PICK, SUBMIT
from handlers.telegram.channel import acknowledge, send_button
from handlers.telegram.filters import (
    HasContact,
    HasMedia,
    HasPlace,
    NotCommand,
    PlainText,
    PrivateChat,
)
from handlers.telegram.inputs import attachment_of, point_of
from handlers.telegram.keyboards import DraftSend, StepNav, StepPick
from handlers.telegram.middleware import converse
from handlers.telegram.states import NewCase


class CaseNav(StepNav, prefix=NAV):
    """/newcase's back / skip / cancel."""


class CasePick(StepPick, prefix=PICK):
    """A choice on a /newcase step (kind, sex, when, a place candidate)."""


class CaseSubmit(DraftSend, prefix=SUBMIT):
    """Submit the case."""


async def start_newcase(message: Message, conversation: Conversation) -> None:
    """Explain what a case is, then ask which kind; a report in progress waits."""
    await CaseTurn.start(conversation)


async def cancel_newcase(message: Message, conversation: Conversation) -> None:
    """/cancel during /newcase drops the case in the making; nothing is sent."""
    turn = await CaseTurn.of(conversation)
    await turn.finish(turn.texts("newcase.cancelled"))


async def on_nav(query: CallbackQuery, callback_data: CaseNav, conversation: Conversation) -> None:
    """Back, skip or cancel; a button from an earlier step only says so."""
    await acknowledge(query)
    turn = await CaseTurn.of(conversation)
    await turn.navigate(callback_data.step, callback_data.action)


async def on_pick(
    query: CallbackQuery, callback_data: CasePick, conversation: Conversation
) -> None:
    """A choice on the current step."""
    await acknowledge(query)
    turn = await CaseTurn.of(conversation)
    await buttons.on_pick(turn, callback_data.step, callback_data.value)


async def on_text(message: Message, conversation: Conversation, services: BotServices) -> None:
    """A typed answer to the step on screen."""
    if turn := await CaseTurn.going(conversation):
        await steps.on_text(turn, message.text or "", services.geocoder, services.vault)


async def on_place(message: Message, conversation: Conversation, services: BotServices) -> None:
    """A pin or venue on the last-seen step."""
    if turn := await CaseTurn.going(conversation):
        await steps.on_place(turn, point_of(message), services.geocoder)


async def on_contact(message: Message, conversation: Conversation, services: BotServices) -> None:
    """A shared contact card on the contact step (sealed by the vault at once)."""
    card = message.contact
    if (turn := await CaseTurn.going(conversation)) and card is not None:
        text = from_card(
            first_name=card.first_name, last_name=card.last_name, phone=card.phone_number
        )
        await steps.on_contact(turn, text, services.vault)


async def on_photo(message: Message, conversation: Conversation) -> None:
    """A photo (or an album of them) on the photo step."""
    photo = steps.photo_of(attachment_of(message), message.caption or "")
    if turn := await CaseTurn.going(conversation):
        await steps.on_photo(turn, photo, message.media_group_id)


async def on_other(message: Message, conversation: Conversation) -> None:
    """Stickers, voice notes, a photo before the photo step: say so and ask the step again."""
    if turn := await CaseTurn.going(conversation):
        media = any(f is not None for f in (message.photo, message.video, message.document))
        await turn.refuse("newcase.photos_later" if media else "newcase.bad_input")


def build_router() -> Router:
    """/newcase and its steps (private chats only)."""
    router = converse(Router(name="newcase"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    in_case = StateFilter(NewCase)
    router.message.register(start_newcase, Command("newcase"))
    router.message.register(cancel_newcase, Command("cancel"), in_case)
    router.callback_query.register(on_nav, CaseNav.filter())
    router.callback_query.register(on_pick, CasePick.filter())
    on_submit = send_button(CaseTurn.of, "case", buttons.on_submit)
    router.callback_query.register(on_submit, CaseSubmit.filter())
    router.message.register(on_text, PlainText(), in_case)
    router.message.register(on_place, HasPlace(), StateFilter(NewCase.where, NewCase.where_pick))
    router.message.register(on_contact, HasContact(), StateFilter(NewCase.contact))
    router.message.register(on_photo, HasMedia(), StateFilter(NewCase.photos))
    router.message.register(on_other, NotCommand(), in_case)
    return router
