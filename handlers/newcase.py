"""/newcase: a family registers a missing child (or a found person looks for family), step by step.

Typed answers, places, contacts and photos are in newcase_steps.py; the questions in
newcase_views.py. Nothing is public until a moderator has checked the police report.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.case_registry import CaseProblem, submit_case
from core.errors import InvalidInput
from core.i18n import Texts
from core.places import picked_place
from core.vault import telegram_source_key
from handlers import newcase_steps as steps
from handlers.context import BotServices
from handlers.filters import HasContact, HasMedia, HasPlace, PlainText, PrivateChat
from handlers.newcase_draft import CaseTalk
from handlers.newcase_turn import CaseTurn, case_step_of, case_view_of
from handlers.newcase_views import CaseNav, CasePick, CaseSubmit
from handlers.states import NewCase
from handlers.turn import acknowledge
from storage.models import Tipster


def _now() -> datetime:
    return datetime.now(UTC)


async def start_newcase(message: Message, state: FSMContext, texts: Texts) -> None:
    """Explain what a case is, then ask which kind; a report in progress waits."""
    turn = await CaseTurn.of(message, state, texts)
    current = await state.get_state()
    if case_view_of(current) is not None and turn.talk is not None:
        await turn.stay(note=texts("newcase.continues"))
        return
    resume = current if current and current.startswith("Report:") else None
    turn.talk = CaseTalk(resume=resume)
    await turn.ask("kind")


async def cancel_newcase(message: Message, state: FSMContext, texts: Texts) -> None:
    """/cancel during /newcase drops the case in the making; nothing is sent."""
    turn = await CaseTurn.of(message, state, texts)
    await turn.finish(texts("newcase.cancelled"))


def _skip(talk: CaseTalk, step: str) -> None:
    cleared = {"nicknames": "", "marks": "", "languages": "", "dialect": "", "circumstances": ""}
    if step in cleared:
        setattr(talk, step, "")
    if step == "languages":
        talk.dialect = ""
    elif step == "sex":
        talk.sex = None
    elif step == "born":
        talk.birth_date, talk.age_years = None, None
    elif step == "when":
        talk.seen.set_seen_unknown()
    elif step == "where":
        talk.seen.set_place(None, now=_now())
        talk.places, talk.typed_place = [], None
    elif step == "police":
        talk.police_ref = None


async def on_nav(
    query: CallbackQuery,
    callback_data: CaseNav,
    state: FSMContext,
    texts: Texts,
    raw_state: str | None,
) -> None:
    """Back, skip or cancel; a button from an earlier step only says so."""
    await acknowledge(query)
    turn = await CaseTurn.of(query, state, texts)
    if callback_data.action == "cancel" and turn.talk is not None:
        await turn.finish(texts("newcase.cancelled"))
    elif turn.talk is None or case_step_of(raw_state) != callback_data.step:
        await turn.say(texts("newcase.stale_button"))
    elif callback_data.action == "skip":
        _skip(turn.case, callback_data.step)
        note = texts("newcase.police_warning") if callback_data.step == "police" else None
        await turn.ask_after(callback_data.step, note=note)
    else:
        await turn.ask_before(case_view_of(raw_state) or callback_data.step)


async def _pick_when(turn: CaseTurn, value: str) -> None:
    if value == "now":
        turn.case.seen.set_seen_now(now=_now())
        await turn.ask_after("when")
    else:
        await turn.ask("when_time" if value == "today" else "when_day")


async def _pick_where(turn: CaseTurn, value: str) -> None:
    talk = turn.case
    if value == "none":
        await turn.ask("where", note=turn.texts("report.place_retype"))
        return
    place = picked_place(value, choices=talk.places, typed=talk.typed_place)
    if place is None:
        await turn.ask("where")
        return
    talk.seen.set_place(place, now=_now())
    talk.places, talk.typed_place = [], None
    await turn.ask_after("where")


async def _pick_value(turn: CaseTurn, step: str, value: str) -> None:
    if step == "kind" and value in ("missing", "found"):
        turn.case.kind = "found" if value == "found" else "missing"
    elif step == "sex" and value in ("female", "male"):
        turn.case.sex = "female" if value == "female" else "male"
    else:
        await turn.stay()
        return
    await turn.ask_after(step)


async def on_pick(
    query: CallbackQuery,
    callback_data: CasePick,
    state: FSMContext,
    texts: Texts,
    raw_state: str | None,
) -> None:
    """A choice on the current step."""
    await acknowledge(query)
    turn = await CaseTurn.of(query, state, texts)
    step, value = callback_data.step, callback_data.value
    if turn.talk is None or case_step_of(raw_state) != step:
        await turn.say(texts("newcase.stale_button"))
    elif step == "when":
        await _pick_when(turn, value)
    elif step == "where":
        await _pick_where(turn, value)
    else:
        await _pick_value(turn, step, value)


async def on_submit(
    query: CallbackQuery,
    *,
    callback_data: CaseSubmit,
    state: FSMContext,
    texts: Texts,
    raw_state: str | None,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """Submit the case once: a second tap, or a retried update, finds the same case."""
    await acknowledge(query)
    turn = await CaseTurn.of(query, state, texts)
    talk = turn.talk
    if talk is not None and talk.last_draft == callback_data.draft and talk.last_ref:
        await turn.say(texts("newcase.submitted", ref=talk.last_ref))
        return
    if talk is None or talk.draft_id != callback_data.draft or case_view_of(raw_state) != "confirm":
        await turn.say(texts("newcase.stale_button"))
        return
    try:
        case = await submit_case(
            session,
            draft=talk.to_draft(now=_now(), vault=services.vault),
            vault=services.vault,
            channel="telegram",
            source_key=telegram_source_key(
                services.vault, kind="case", chat_id=turn.chat_id, draft_id=talk.draft_id
            ),
            tipster_id=tipster.id,
        )
    except InvalidInput as problem:
        why = problem.render(texts.language) if isinstance(problem, CaseProblem) else str(problem)
        await turn.ask("confirm", note=texts("newcase.invalid", problem=why))
        return
    done = texts("newcase.submitted", ref=case.ref)
    if not talk.police_ref:
        done = f"{done}\n\n{texts('newcase.police_warning')}"
    await turn.finish(done, keep=CaseTalk(last_draft=talk.draft_id, last_ref=case.ref))


def build_router() -> Router:
    """/newcase and its steps (private chats only)."""
    router = Router(name="newcase")
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    in_case = StateFilter(NewCase)
    router.message.register(start_newcase, Command("newcase"))
    router.message.register(cancel_newcase, Command("cancel"), in_case)
    router.callback_query.register(on_nav, CaseNav.filter())
    router.callback_query.register(on_pick, CasePick.filter())
    router.callback_query.register(on_submit, CaseSubmit.filter())
    router.message.register(steps.on_text, PlainText(), in_case)
    router.message.register(
        steps.on_place, HasPlace(), StateFilter(NewCase.where, NewCase.where_pick)
    )
    router.message.register(steps.on_contact, HasContact(), StateFilter(NewCase.contact))
    router.message.register(steps.on_photo, HasMedia(), StateFilter(NewCase.photos))
    router.message.register(steps.on_other, steps.NotCommand(), in_case)
    return router
