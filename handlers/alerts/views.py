"""What /alerts asks and shows: its questions, buttons and the volunteer's settings summary."""

from __future__ import annotations

from collections.abc import Callable

from core.alerts.volunteers import MAX_RADIUS_KM, RADIUS_CHOICES, format_quiet
from core.i18n import Texts
from handlers.alerts.state import AreaChoice, SignUp
from handlers.engine.channel import Button, Keyboard, button, keyboard
from handlers.engine.keys import shared
from handlers.engine.wizard import View
from storage.models import Subscription

VOL = "vo"
"""Button data: vo:<action>:<value> ("-" when there is none)."""
NONE = "-"


def vol(label: str, action: str, value: str = NONE) -> Button:
    """A button of /alerts."""
    return button(label, VOL, action, value)


LANGUAGE_KEYS = {"en": "language.en", "zh-Hans": "language.zh"}


@shared
def radius_keyboard(texts: Texts) -> Keyboard:
    """5 / 10 / 25 / 50 / 100 / 200 km, and Cancel."""
    km = [vol(texts("volunteer.km", km=k), "radius", str(k)) for k in RADIUS_CHOICES]
    return keyboard(km[:3], km[3:], [_cancel(texts)])


@shared
def language_keyboard(texts: Texts) -> Keyboard:
    """English / 中文."""
    return keyboard(
        [vol(texts(key), "lang", code) for code, key in LANGUAGE_KEYS.items()],
        [_cancel(texts)],
    )


@shared
def quiet_keyboard(texts: Texts) -> Keyboard:
    """No quiet hours / 22:00-07:00."""
    return keyboard(
        [
            vol(texts("volunteer.quiet_none"), "quiet", "none"),
            vol(texts("volunteer.quiet_night"), "quiet", "night"),
        ],
        [_cancel(texts)],
    )


def choices_keyboard(texts: Texts, choices: list[AreaChoice]) -> Keyboard:
    """One button per candidate city ("Did you mean…?")."""
    rows = [[vol(c.label, "pick", str(i))] for i, c in enumerate(choices)]
    return keyboard(*rows, [_cancel(texts)])


@shared
def confirm_keyboard(texts: Texts) -> Keyboard:
    """Start alerts / Cancel."""
    return keyboard([vol(texts("volunteer.button_confirm"), "confirm"), _cancel(texts)])


def settings_keyboard(texts: Texts, sub: Subscription) -> Keyboard:
    """Pause or resume, change area, radius, quiet hours, leave."""
    toggle = (
        ("resume", "volunteer.button_resume") if sub.paused else ("pause", "volunteer.button_pause")
    )
    return keyboard(
        [vol(texts(toggle[1]), toggle[0])],
        [
            vol(texts("volunteer.button_area"), "area"),
            vol(texts("volunteer.button_radius"), "radius_change"),
        ],
        [
            vol(texts("volunteer.button_quiet"), "quiet_change"),
            vol(texts("volunteer.button_leave"), "leave"),
        ],
    )


def _cancel(texts: Texts) -> Button:
    return vol(texts("button.cancel"), "cancel")


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


def summary_of_draft(texts: Texts, chosen: SignUp) -> str:
    """The summary of settings being chosen."""
    area = chosen.area
    return summary(
        texts,
        place=area.label if area else "",
        radius_km=chosen.radius or 0,
        language=chosen.language,
        quiet=chosen.quiet or (None, None),
        timezone=area.timezone if area else None,
        paused=False,
    )


def max_radius() -> int:
    """The largest radius one may ask for, for the question's text."""
    return int(MAX_RADIUS_KM)


def _area(chosen: SignUp, texts: Texts) -> View:
    return texts("volunteer.ask_area" if chosen.editing == "area" else "volunteer.intro"), None


def _area_pick(chosen: SignUp, texts: Texts) -> View:
    return texts("volunteer.city_pick"), choices_keyboard(texts, chosen.choices)


def _radius(chosen: SignUp, texts: Texts) -> View:
    place = chosen.area.label if chosen.area else chosen.place
    return texts("volunteer.ask_radius", place=place, max=max_radius()), radius_keyboard(texts)


def _language(chosen: SignUp, texts: Texts) -> View:
    return texts("volunteer.ask_language"), language_keyboard(texts)


def _quiet(chosen: SignUp, texts: Texts) -> View:
    return texts("volunteer.ask_quiet"), quiet_keyboard(texts)


def _confirm(chosen: SignUp, texts: Texts) -> View:
    text = f"{summary_of_draft(texts, chosen)}\n\n{texts('volunteer.confirm_ask')}"
    return text, confirm_keyboard(texts)


VIEWS: dict[str, Callable[[SignUp, Texts], View]] = {
    "area": _area,
    "area_pick": _area_pick,
    "radius": _radius,
    "language": _language,
    "quiet": _quiet,
    "confirm": _confirm,
}
