"""/alerts on Telegram: its steps and buttons, and the two buttons on an alert (report, pause)."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.messages import CALLBACK_PREFIX
from handlers.alerts.flow import SETTINGS, Turn, Volunteer
from handlers.alerts.views import NONE, VOL
from handlers.context import BotServices
from handlers.engine.wizard import Conversation
from handlers.telegram.channel import acknowledge
from handlers.telegram.filters import ActionIs, HasPlace, PlainText, PrivateChat
from handlers.telegram.inputs import point_of
from handlers.telegram.middleware import converse
from handlers.telegram.states import Volunteering
from handlers.tipster.start import report_about_case
from storage.models import Tipster


class Vol(CallbackData, prefix=VOL):
    """A button of /alerts: vo:<action>:<value>."""

    action: str
    value: str = NONE


class AlertButton(CallbackData, prefix=CALLBACK_PREFIX):
    """A button on an alert (core/alerts/messages.py): va:report:<ref> or va:pause:<ref>."""

    action: str
    ref: str


def _who(data: dict[str, Any]) -> Volunteer:
    services: BotServices = data["services"]
    tipster: Tipster = data["tipster"]
    return Volunteer(data["session"], tipster.id, services.alerts_per_day)


async def show_alerts(message: Message, conversation: Conversation, **data: Any) -> None:
    """/alerts: sign up, or the settings and their buttons."""
    await (await Turn.of(conversation)).show(_who(data))


async def on_location(message: Message, conversation: Conversation, **data: Any) -> None:
    """A location pin or venue as the area."""
    turn = await Turn.of(conversation)
    await turn.at_point(point_of(message), data["services"].geocoder, _who(data))


async def on_city(message: Message, conversation: Conversation, **data: Any) -> None:
    """A typed city as the area."""
    turn = await Turn.of(conversation)
    await turn.city(message.text or "", data["services"].geocoder, _who(data))


async def on_radius_text(message: Message, conversation: Conversation, **data: Any) -> None:
    """A typed radius in km."""
    await (await Turn.of(conversation)).radius(message.text or "", _who(data))


async def on_quiet_text(message: Message, conversation: Conversation, **data: Any) -> None:
    """Typed quiet hours ("23-6")."""
    await (await Turn.of(conversation)).quiet_typed(message.text or "", _who(data))


async def on_button(
    query: CallbackQuery, callback_data: Vol, conversation: Conversation, **data: Any
) -> None:
    """A button of a step: a candidate city, radius, language, quiet hours, confirm, cancel."""
    await acknowledge(query)
    turn = await Turn.of(conversation)
    await turn.press(callback_data.action, callback_data.value, _who(data))


async def on_cancel_command(message: Message, conversation: Conversation) -> None:
    """/cancel while signing up or changing a setting: only the alerts' own steps stop."""
    await (await Turn.of(conversation)).cancel()


async def on_setting(
    query: CallbackQuery, callback_data: Vol, conversation: Conversation, **data: Any
) -> None:
    """The buttons under the settings: pause, resume, change a setting, leave."""
    await acknowledge(query)
    await (await Turn.of(conversation)).setting(callback_data.action, _who(data))


async def on_alert_pause(query: CallbackQuery, conversation: Conversation, **data: Any) -> None:
    """ "Pause alerts" under an alert."""
    await acknowledge(query)
    await (await Turn.of(conversation)).pause_from_alert(_who(data))


async def on_alert_report(
    query: CallbackQuery,
    callback_data: AlertButton,
    conversation: Conversation,
    session: AsyncSession,
) -> None:
    """ "I saw this child — report" under an alert: a report about that case, as a poster's link."""
    await acknowledge(query)
    await report_about_case(conversation, session, code=callback_data.ref)


def build_router() -> Router:
    """/alerts and its steps and buttons (private chats); before the report's steps."""
    router = converse(Router(name="alerts"))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    text, flow = PlainText(), Vol.filter()
    where = StateFilter(Volunteering.area, Volunteering.area_pick)
    router.message.register(show_alerts, Command("alerts"))
    router.message.register(on_cancel_command, Command("cancel"), StateFilter(Volunteering))
    router.message.register(on_location, HasPlace(), where)
    router.message.register(on_city, text, where)
    router.message.register(on_radius_text, text, StateFilter(Volunteering.radius))
    router.message.register(on_quiet_text, text, StateFilter(Volunteering.quiet))
    steps = (
        ("pick", Volunteering.area_pick),
        ("radius", Volunteering.radius),
        ("lang", Volunteering.language),
        ("quiet", Volunteering.quiet),
        ("confirm", Volunteering.confirm),
    )
    for action, step in steps:
        router.callback_query.register(on_button, flow, ActionIs(action), StateFilter(step))
    router.callback_query.register(on_button, flow, ActionIs("cancel"))
    for action in SETTINGS:
        router.callback_query.register(on_setting, flow, ActionIs(action))
    router.callback_query.register(on_alert_report, AlertButton.filter(), ActionIs("report"))
    router.callback_query.register(on_alert_pause, AlertButton.filter(), ActionIs("pause"))
    return router
