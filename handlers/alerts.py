"""/alerts: volunteers sign up for area alerts (area, radius, language, quiet hours), see and change
their settings, pause, resume or leave; and the two buttons on an alert (report, pause)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, StateFilter

from handlers.alerts_buttons import on_alert_pause, on_alert_report, on_setting
from handlers.alerts_steps import (
    on_cancel,
    on_cancel_command,
    on_city,
    on_confirm,
    on_language,
    on_location,
    on_pick,
    on_quiet_button,
    on_quiet_text,
    on_radius_button,
    on_radius_text,
    show_alerts,
)
from handlers.alerts_views import AlertButton, Vol, Volunteering
from handlers.filters import ActionIs, HasPlace, PlainText, PrivateChat


def build_router() -> Router:
    """/alerts and its steps and buttons (private chats); before the report's steps."""
    router = Router(name="alerts")
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
        (on_pick, "pick", Volunteering.area_pick),
        (on_radius_button, "radius", Volunteering.radius),
        (on_language, "lang", Volunteering.language),
        (on_quiet_button, "quiet", Volunteering.quiet),
        (on_confirm, "confirm", Volunteering.confirm),
    )
    for handler, action, step in steps:
        router.callback_query.register(handler, flow, ActionIs(action), StateFilter(step))
    router.callback_query.register(on_cancel, flow, ActionIs("cancel"))
    for action in ("pause", "resume", "area", "radius_change", "quiet_change", "leave"):
        router.callback_query.register(on_setting, flow, ActionIs(action))
    router.callback_query.register(on_alert_report, AlertButton.filter(), ActionIs("report"))
    router.callback_query.register(on_alert_pause, AlertButton.filter(), ActionIs("pause"))
    return router
