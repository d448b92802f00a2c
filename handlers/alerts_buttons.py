"""/alerts settings buttons (pause, resume, change, leave) and the two buttons on an alert."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases import get_public_case
from core.i18n import Texts
from core.volunteers import VolunteerRefused, get_volunteer, leave_alerts, set_paused
from handlers.alerts_steps import go, say
from handlers.alerts_views import (
    AlertButton,
    Vol,
    Volunteering,
    max_radius,
    quiet_keyboard,
    radius_keyboard,
)
from handlers.context import BotServices
from handlers.talk import CaseChoice
from handlers.turn import Turn, acknowledge
from storage.models import Tipster


async def on_setting(
    query: CallbackQuery,
    *,
    callback_data: Vol,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """The buttons under the settings: pause, resume, change area/radius/quiet hours, leave."""
    await acknowledge(query)
    action = callback_data.action
    sub = await get_volunteer(session, tipster_id=tipster.id)
    if sub is None:
        await say(query, texts("volunteer.not_subscribed"))
    elif action in ("pause", "resume"):
        await set_paused(
            session,
            tipster_id=tipster.id,
            paused=action == "pause",
            per_day=services.alerts_per_day,
        )
        await say(query, texts("volunteer.paused" if action == "pause" else "volunteer.resumed"))
    elif action == "leave":
        await leave_alerts(session, tipster_id=tipster.id)
        await go(state, None)
        await say(query, texts("volunteer.left"))
    else:
        await _edit(query, state, texts, action, sub.place_text or "")


async def _edit(
    query: CallbackQuery, state: FSMContext, texts: Texts, action: str, place: str
) -> None:
    if action == "area":
        await go(state, Volunteering.area, vol_editing="area")
        await say(query, texts("volunteer.ask_area"))
    elif action == "radius_change":
        await go(state, Volunteering.radius, vol_editing="radius")
        question = texts("volunteer.ask_radius", place=place, max=max_radius())
        await say(query, question, radius_keyboard(texts))
    else:
        await go(state, Volunteering.quiet, vol_editing="quiet")
        await say(query, texts("volunteer.ask_quiet"), quiet_keyboard(texts))


async def on_alert_pause(
    query: CallbackQuery, texts: Texts, session: AsyncSession, tipster: Tipster
) -> None:
    """ "Pause alerts" under an alert."""
    await acknowledge(query)
    try:
        await set_paused(session, tipster_id=tipster.id, paused=True)
    except VolunteerRefused as refused:
        await say(query, texts(refused.key, **refused.values))
        return
    await say(query, texts("volunteer.paused"))


async def on_alert_report(
    query: CallbackQuery,
    callback_data: AlertButton,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
) -> None:
    """ "I saw this child — report" under an alert: a report about that case, as a poster's link."""
    await acknowledge(query)
    turn = await Turn.of(query, state, texts)
    await turn.begin(session)
    case = await get_public_case(session, code=callback_data.ref)
    if case is None:
        turn.draft.case_unknown, turn.draft.case_ref = True, None
        note = texts("report.case_not_found", code=callback_data.ref[:20])
    else:
        turn.draft.case_ref, turn.draft.case_unknown = case.ref, False
        turn.talk.cases = [CaseChoice(ref=case.ref, name=case.full_name)]
        note = texts("report.case_picked", case=f"{case.full_name} ({case.ref})")
    turn.talk.mark("case")
    await turn.advance(note=note)
