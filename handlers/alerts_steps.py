"""/alerts step by step: the area (a pin or a city), radius, language, quiet hours, confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import DEFAULT_PER_DAY
from core.i18n import Texts
from core.volunteers import (
    NIGHT,
    Area,
    VolunteerRefused,
    area_from_point,
    area_from_text,
    change_area,
    change_quiet_hours,
    change_radius,
    get_volunteer,
    parse_quiet_hours,
    parse_radius,
    subscribe_volunteer,
)
from handlers.alerts_views import (
    Vol,
    Volunteering,
    choices_keyboard,
    confirm_keyboard,
    language_keyboard,
    max_radius,
    quiet_keyboard,
    radius_keyboard,
    settings_keyboard,
    summary_of,
    summary_of_draft,
)
from handlers.context import BotServices
from handlers.turn import acknowledge
from storage.models import Tipster

Event = Message | CallbackQuery


@dataclass(frozen=True, slots=True)
class Step:
    """What answering a step needs: where to reply, the conversation, who is asking, and the
    daily alert cap for the alerts a change of area or radius may bring at once."""

    event: Event
    state: FSMContext
    texts: Texts
    session: AsyncSession
    tipster: Tipster
    per_day: int = DEFAULT_PER_DAY


KEYS = ("vol_area", "vol_radius", "vol_language", "vol_quiet", "vol_editing", "vol_choices")


async def say(event: Event, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    if isinstance(event, Message):
        await event.answer(text, reply_markup=keyboard)
    elif event.bot is not None:
        await event.bot.send_message(event.from_user.id, text, reply_markup=keyboard)


async def go(state: FSMContext, to: State | None, **data: Any) -> None:
    await state.set_state(to)
    cleared = dict.fromkeys(KEYS) if to is None else {}
    await state.update_data({**cleared, **data})


async def saved(event: Event, state: FSMContext, texts: Texts, sub: Any) -> None:
    await go(state, None)
    await say(event, f"{texts('volunteer.saved')}\n\n{summary_of(texts, sub)}")


async def show_alerts(
    message: Message, state: FSMContext, texts: Texts, session: AsyncSession, tipster: Tipster
) -> None:
    """Not signed up: explain and ask for the area. Signed up: the settings and their buttons."""
    sub = await get_volunteer(session, tipster_id=tipster.id)
    if sub is None:
        await go(state, Volunteering.area, vol_editing=None)
        await message.answer(texts("volunteer.intro"))
        return
    await go(state, None)
    await message.answer(summary_of(texts, sub), reply_markup=settings_keyboard(texts, sub))


async def on_location(
    message: Message,
    *,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A location pin or venue as the area (refused at sea)."""
    point = message.location or (message.venue.location if message.venue else None)
    assert point is not None  # HasPlace
    try:
        area = await area_from_point(services.geocoder, lat=point.latitude, lon=point.longitude)
    except VolunteerRefused as refused:
        await message.answer(texts(refused.key, **refused.values))
        return
    step = Step(message, state, texts, session, tipster, services.alerts_per_day)
    await _area_chosen(step, area)


async def on_city(
    message: Message,
    *,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A typed city as the area; "Did you mean…?" when several places share the name."""
    try:
        found = await area_from_text(services.geocoder, message.text or "")
    except VolunteerRefused as refused:
        await message.answer(texts(refused.key, **refused.values))
        return
    if found.best is not None:
        step = Step(message, state, texts, session, tipster, services.alerts_per_day)
        await _area_chosen(step, found.best)
        return
    choices = [area.as_dict() for area in found.choices]
    await go(state, Volunteering.area_pick, vol_choices=choices)
    await message.answer(
        texts("volunteer.city_pick"), reply_markup=choices_keyboard(texts, choices)
    )


async def on_pick(
    query: CallbackQuery,
    *,
    callback_data: Vol,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """One of the candidate cities."""
    await acknowledge(query)
    choices = (await state.get_data()).get("vol_choices") or []
    index = int(callback_data.value) if callback_data.value.isdigit() else len(choices)
    if index < len(choices):
        area = Area(**choices[index])
        await _area_chosen(
            Step(query, state, texts, session, tipster, services.alerts_per_day), area
        )


async def _area_chosen(step: Step, area: Area) -> None:
    if (await step.state.get_data()).get("vol_editing") == "area":
        changed = await change_area(
            step.session, tipster_id=step.tipster.id, area=area, per_day=step.per_day
        )
        await saved(step.event, step.state, step.texts, changed)
        return
    await go(step.state, Volunteering.radius, vol_area=area.as_dict())
    question = step.texts("volunteer.ask_radius", place=area.label, max=max_radius())
    await say(step.event, question, radius_keyboard(step.texts))


async def on_radius_text(
    message: Message,
    *,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A typed radius in km."""
    step = Step(message, state, texts, session, tipster, services.alerts_per_day)
    await _radius_chosen(step, message.text or "")


async def on_radius_button(
    query: CallbackQuery,
    *,
    callback_data: Vol,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """A tapped radius."""
    await acknowledge(query)
    step = Step(query, state, texts, session, tipster, services.alerts_per_day)
    await _radius_chosen(step, callback_data.value)


async def _radius_chosen(step: Step, typed: str) -> None:
    try:
        radius = parse_radius(typed)
    except VolunteerRefused as refused:
        await say(step.event, step.texts(refused.key, **refused.values))
        return
    if (await step.state.get_data()).get("vol_editing") == "radius":
        changed = await change_radius(
            step.session, tipster_id=step.tipster.id, radius_km=radius, per_day=step.per_day
        )
        await saved(step.event, step.state, step.texts, changed)
        return
    await go(step.state, Volunteering.language, vol_radius=radius)
    await say(step.event, step.texts("volunteer.ask_language"), language_keyboard(step.texts))


async def on_language(
    query: CallbackQuery, callback_data: Vol, state: FSMContext, texts: Texts
) -> None:
    """The language alerts will be in."""
    await acknowledge(query)
    await go(state, Volunteering.quiet, vol_language=callback_data.value)
    await say(query, texts("volunteer.ask_quiet"), quiet_keyboard(texts))


async def on_quiet_text(
    message: Message, state: FSMContext, texts: Texts, session: AsyncSession, tipster: Tipster
) -> None:
    """Typed quiet hours ("23-6")."""
    try:
        quiet = parse_quiet_hours(message.text or "")
    except VolunteerRefused as refused:
        await message.answer(texts(refused.key, **refused.values))
        return
    await _quiet_chosen(Step(message, state, texts, session, tipster), quiet)


async def on_quiet_button(
    query: CallbackQuery,
    *,
    callback_data: Vol,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
) -> None:
    """No quiet hours, or 22:00-07:00."""
    await acknowledge(query)
    quiet = NIGHT if callback_data.value == "night" else None
    await _quiet_chosen(Step(query, state, texts, session, tipster), quiet)


async def _quiet_chosen(step: Step, quiet: tuple[int, int] | None) -> None:
    state, texts = step.state, step.texts
    if (await state.get_data()).get("vol_editing") == "quiet":
        changed = await change_quiet_hours(step.session, tipster_id=step.tipster.id, quiet=quiet)
        await saved(step.event, state, texts, changed)
        return
    await go(state, Volunteering.confirm, vol_quiet=list(quiet) if quiet else None)
    text = f"{summary_of_draft(texts, await state.get_data())}\n\n{texts('volunteer.confirm_ask')}"
    await say(step.event, text, confirm_keyboard(texts))


async def on_confirm(
    query: CallbackQuery,
    *,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """Start alerts with the chosen settings."""
    await acknowledge(query)
    data = await state.get_data()
    quiet = data.get("vol_quiet")
    sub = await subscribe_volunteer(
        session,
        tipster_id=tipster.id,
        area=Area(**data["vol_area"]),
        radius_km=data["vol_radius"],
        language=data["vol_language"],
        quiet=(quiet[0], quiet[1]) if quiet else None,
        per_day=services.alerts_per_day,
    )
    await go(state, None)
    await say(query, texts("volunteer.subscribed", place=sub.place_text))


async def on_cancel_command(message: Message, state: FSMContext, texts: Texts) -> None:
    """/cancel while signing up or changing a setting: only the alerts' own steps stop."""
    await go(state, None)
    await say(message, texts("volunteer.cancelled"))


async def on_cancel(query: CallbackQuery, state: FSMContext, texts: Texts) -> None:
    """Stop signing up or changing a setting; nothing changes."""
    await acknowledge(query)
    await go(state, None)
    await say(query, texts("volunteer.cancelled"))
