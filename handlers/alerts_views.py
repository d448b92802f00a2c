"""What /alerts shows: its buttons, conversation states and the volunteer's settings summary."""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup

from core.alert_messages import CALLBACK_PREFIX
from core.i18n import Texts
from core.volunteers import MAX_RADIUS_KM, RADIUS_CHOICES, Area, format_quiet
from handlers.keyboards import button, markup
from storage.models import Subscription

LANGUAGE_KEYS = {"en": "language.en", "zh-Hans": "language.zh"}


class Volunteering(StatesGroup):
    """Signing up for area alerts, or changing one setting."""

    area = State()
    area_pick = State()
    radius = State()
    language = State()
    quiet = State()
    confirm = State()


class Vol(CallbackData, prefix="vo"):
    """A button of /alerts: vo:<action>:<value>."""

    action: str
    value: str = "-"


class AlertButton(CallbackData, prefix=CALLBACK_PREFIX):
    """A button on an alert (core/alert_messages.py): va:report:<ref> or va:pause:<ref>."""

    action: str
    ref: str


def radius_keyboard(texts: Texts) -> InlineKeyboardMarkup:
    """5 / 10 / 25 / 50 / 100 / 200 km, and Cancel."""
    km = [
        button(texts("volunteer.km", km=k), Vol(action="radius", value=str(k)))
        for k in RADIUS_CHOICES
    ]
    return markup(km[:3], km[3:], [_cancel(texts)])


def language_keyboard(texts: Texts) -> InlineKeyboardMarkup:
    """English / 中文."""
    return markup(
        [button(texts(key), Vol(action="lang", value=code)) for code, key in LANGUAGE_KEYS.items()],
        [_cancel(texts)],
    )


def quiet_keyboard(texts: Texts) -> InlineKeyboardMarkup:
    """No quiet hours / 22:00-07:00."""
    return markup(
        [
            button(texts("volunteer.quiet_none"), Vol(action="quiet", value="none")),
            button(texts("volunteer.quiet_night"), Vol(action="quiet", value="night")),
        ],
        [_cancel(texts)],
    )


def choices_keyboard(texts: Texts, choices: list[dict[str, Any]]) -> InlineKeyboardMarkup:
    """One button per candidate city ("Did you mean…?")."""
    rows = [[button(c["label"], Vol(action="pick", value=str(i)))] for i, c in enumerate(choices)]
    return markup(*rows, [_cancel(texts)])


def confirm_keyboard(texts: Texts) -> InlineKeyboardMarkup:
    """Start alerts / Cancel."""
    return markup(
        [button(texts("volunteer.button_confirm"), Vol(action="confirm")), _cancel(texts)]
    )


def settings_keyboard(texts: Texts, sub: Subscription) -> InlineKeyboardMarkup:
    """Pause or resume, change area, radius, quiet hours, leave."""
    toggle = (
        ("resume", "volunteer.button_resume") if sub.paused else ("pause", "volunteer.button_pause")
    )
    return markup(
        [button(texts(toggle[1]), Vol(action=toggle[0]))],
        [
            button(texts("volunteer.button_area"), Vol(action="area")),
            button(texts("volunteer.button_radius"), Vol(action="radius_change")),
        ],
        [
            button(texts("volunteer.button_quiet"), Vol(action="quiet_change")),
            button(texts("volunteer.button_leave"), Vol(action="leave")),
        ],
    )


def _cancel(texts: Texts) -> Any:
    return button(texts("button.cancel"), Vol(action="cancel"))


def summary(
    texts: Texts,
    *,
    place: str,
    radius_km: float,
    language: str,
    quiet: tuple[int | None, int | None],
    timezone: str | None,
    paused: bool,
) -> str:
    """The volunteer's settings in a few lines."""
    shown = format_quiet(quiet)
    quiet_text = (
        texts("volunteer.quiet_range", start=shown[0], end=shown[1], zone=timezone or "UTC")
        if shown
        else texts("volunteer.quiet_off")
    )
    return texts(
        "volunteer.summary",
        place=place,
        radius=f"{radius_km:g}",
        language=texts(LANGUAGE_KEYS.get(language, "language.en")),
        quiet=quiet_text,
        status=texts("volunteer.status_paused" if paused else "volunteer.status_active"),
    )


def summary_of(texts: Texts, sub: Subscription) -> str:
    """The summary of a saved subscription."""
    return summary(
        texts,
        place=sub.place_text or "",
        radius_km=sub.radius_km or 0,
        language=sub.language,
        quiet=(sub.quiet_start_min, sub.quiet_end_min),
        timezone=sub.timezone,
        paused=sub.paused,
    )


def summary_of_draft(texts: Texts, data: dict[str, Any]) -> str:
    """The summary of settings being chosen (kept in the conversation state)."""
    area = Area(**data["vol_area"])
    quiet = data.get("vol_quiet") or (None, None)
    return summary(
        texts,
        place=area.label,
        radius_km=data["vol_radius"],
        language=data["vol_language"],
        quiet=(quiet[0], quiet[1]),
        timezone=area.timezone,
        paused=False,
    )


def max_radius() -> int:
    """The largest radius one may ask for, for the question's text."""
    return int(MAX_RADIUS_KM)
