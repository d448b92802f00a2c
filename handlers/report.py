"""The report's buttons: back, skip, cancel, the choices of each step, and send."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from core.drafts import Draft
from core.errors import InvalidInput, RateLimited
from core.i18n import Texts
from core.places import picked_place
from core.tips import TipReceipt, submit_tip_within_limit
from core.vault import telegram_source_key
from handlers.context import BotServices
from handlers.filters import TipsterChat
from handlers.keyboards import Confirm, Nav, Pick
from handlers.turn import PARENT, Turn, acknowledge, step_of, view_of
from storage.models import Tipster


def _now() -> datetime:
    return datetime.now(UTC)


def _skip(turn: Turn, step: str) -> None:
    if step == "when":
        turn.draft.set_seen_unknown()
    elif step == "contact":
        turn.draft.contact_allowed = False
    turn.talk.mark(step)


async def on_nav(
    query: CallbackQuery, callback_data: Nav, state: FSMContext, texts: Texts, raw_state: str | None
) -> None:
    """Back, skip or cancel; a button from an earlier step does nothing."""
    await acknowledge(query)
    turn = await Turn.of(query, state, texts)
    if callback_data.action == "cancel":
        await turn.cancel()
        return
    if turn.talk.draft is None or step_of(raw_state) != callback_data.step:
        await turn.say(texts("report.stale_button"))
        return
    if callback_data.action == "skip":
        _skip(turn, callback_data.step)
        await turn.advance()
        return
    name = view_of(raw_state) or callback_data.step
    back = PARENT.get(name) or turn.previous_step(callback_data.step) or name
    await turn.ask(back)


async def _pick_case(turn: Turn, value: str) -> None:
    if value == "near":
        turn.talk.near_search = True
        await turn.ask("case", note=turn.texts("report.case_share_location"))
        return
    if value == "unknown":
        turn.draft.case_unknown, turn.draft.case_ref = True, None
    else:
        turn.draft.case_ref, turn.draft.case_unknown = value, False
        turn.talk.cases = [c for c in turn.talk.cases if c.ref == value]
    turn.talk.mark("case")
    await turn.advance()


async def _pick_when(turn: Turn, value: str) -> None:
    if value == "now":
        turn.draft.set_seen_now(now=_now())
        await turn.advance()
    else:
        await turn.ask("when_time" if value == "today" else "when_day")


async def _pick_where(turn: Turn, value: str) -> None:
    talk = turn.talk
    if value == "none":
        await turn.ask("where", note=turn.texts("report.place_retype"))
        return
    place = picked_place(value, choices=talk.places, typed=talk.typed_place)
    if place is None:
        await turn.ask("where")
        return
    turn.draft.set_place(place, now=_now())
    talk.places, talk.typed_place = [], None
    await turn.advance()


async def _pick_contact(turn: Turn, value: str) -> None:
    turn.draft.contact_allowed = value == "yes"
    turn.talk.mark("contact")
    await turn.advance()


PICKS = {"case": _pick_case, "when": _pick_when, "where": _pick_where, "contact": _pick_contact}


async def on_pick(
    query: CallbackQuery,
    callback_data: Pick,
    state: FSMContext,
    texts: Texts,
    raw_state: str | None,
) -> None:
    """A choice on the current step."""
    await acknowledge(query)
    turn = await Turn.of(query, state, texts)
    pick = PICKS.get(callback_data.step)
    if pick is None or turn.talk.draft is None or step_of(raw_state) != callback_data.step:
        await turn.say(texts("report.stale_button"))
        return
    await pick(turn, callback_data.value)


async def _submit(
    turn: Turn, draft: Draft, session: AsyncSession, tipster: Tipster, services: BotServices
) -> TipReceipt | None:
    try:
        return await submit_tip_within_limit(
            session,
            draft=draft,
            channel="telegram",
            source_key=telegram_source_key(
                services.vault, kind="tip", chat_id=turn.chat_id, draft_id=draft.draft_id
            ),
            tipster_id=tipster.id,
            language=tipster.language,
            max_tips=services.limits.tips_per_window,
            window_seconds=services.limits.tips_window_seconds,
        )
    except RateLimited:
        await turn.say(turn.texts("report.too_many_tips"))
    except InvalidInput:
        await turn.ask("what", note=turn.texts("report.nothing_to_send"))
    return None


async def on_confirm(
    query: CallbackQuery,
    *,
    callback_data: Confirm,
    state: FSMContext,
    texts: Texts,
    raw_state: str | None,
    session: AsyncSession,
    tipster: Tipster,
    services: BotServices,
) -> None:
    """Send the tip once: a second tap, or a retried update, gets the same reference."""
    await acknowledge(query)
    turn = await Turn.of(query, state, texts)
    talk, draft = turn.talk, turn.talk.draft
    if talk.last_draft == callback_data.draft and talk.last_ref:
        await turn.say(texts("report.sent", ref=talk.last_ref))
        return
    if draft is None or draft.draft_id != callback_data.draft or view_of(raw_state) != "confirm":
        await turn.say(texts("report.stale_button"))
        return
    receipt = await _submit(turn, draft, session, tipster, services)
    if receipt is not None:
        talk.forget_draft()
        talk.last_draft, talk.last_ref = draft.draft_id, receipt.ref
        await state.set_state(None)
        await turn.say(texts("report.sent", ref=receipt.ref))


def build_router() -> Router:
    """The report's buttons (private chats only)."""
    router = Router(name="report")
    router.callback_query.filter(TipsterChat())
    router.callback_query.register(on_nav, Nav.filter())
    router.callback_query.register(on_pick, Pick.filter())
    router.callback_query.register(on_confirm, Confirm.filter())
    return router
