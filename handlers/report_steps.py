"""What the tipster sends during a report: taken into the draft whatever step they are on."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases import NEAR_RADIUS_KM, list_cases_near
from core.drafts import MAX_ATTACHMENTS, DraftPlace
from core.i18n import Texts
from core.places import place_at, place_label, resolve_typed
from core.tips import list_case_choices
from handlers.context import BotServices
from handlers.filters import HasMedia, HasPlace, PlainText, TipsterChat
from handlers.media import attachment_of
from handlers.states import Report
from handlers.talk import CaseChoice
from handlers.turn import Turn


def _now() -> datetime:
    return datetime.now(UTC)


def _text(message: Message) -> str:
    return message.text or message.caption or ""


def _added_note(turn: Turn, text: str) -> str:
    kept = turn.draft.append_text(text)
    return turn.texts("note.text_added" if kept else "note.text_cut")


async def on_case_text(
    message: Message, state: FSMContext, texts: Texts, session: AsyncSession
) -> None:
    """A name or code: offer the public cases that match."""
    turn = await Turn.of(message, state, texts)
    cases = await list_case_choices(session, query=_text(message)[:100])
    turn.talk.cases = [CaseChoice(ref=c.ref, name=c.full_name) for c in cases]
    note = "report.case_choose" if cases else "report.case_none"
    await turn.ask("case", note=texts(note, query=_text(message)[:100]))


async def on_what_text(message: Message, state: FSMContext, texts: Texts) -> None:
    """What was seen; the next step follows."""
    turn = await Turn.of(message, state, texts)
    kept = turn.draft.append_text(_text(message))
    turn.talk.mark("what")
    await turn.advance(note=None if kept else texts("note.text_cut"))


async def on_when_text(message: Message, state: FSMContext, texts: Texts) -> None:
    """A typed moment: "14:30", "20/11 14:30", "2026-11-20"."""
    turn = await Turn.of(message, state, texts)
    name = await turn.current() or "when"
    outcome = turn.draft.set_seen_from_text(
        _text(message), now=_now(), need_date=name == "when_day"
    )
    if outcome == "ok":
        await turn.advance()
        return
    await turn.ask(name, note=texts(f"report.when_{outcome}", text=_text(message)[:50]))


async def on_where_text(
    message: Message, state: FSMContext, texts: Texts, services: BotServices
) -> None:
    """A typed place: resolved offline, with "Did you mean…?" when it is ambiguous."""
    turn = await Turn.of(message, state, texts)
    found = await resolve_typed(services.geocoder, _text(message))
    if found.best is not None and not found.ambiguous:
        turn.draft.set_place(found.best, now=_now())
        note = texts("note.place_saved", place=place_label(found.best, texts.language))
        await turn.advance(note=note)
        return
    turn.talk.places, turn.talk.typed_place = list(found.choices), found.typed
    await turn.ask("where_pick")


async def on_other_text(message: Message, state: FSMContext, texts: Texts) -> None:
    """Text on a later step: more of what was seen."""
    turn = await Turn.of(message, state, texts)
    await turn.stay(note=_added_note(turn, _text(message)))


async def on_first_text(
    message: Message, state: FSMContext, texts: Texts, session: AsyncSession
) -> None:
    """Text with no conversation going: a report starts with it as what was seen."""
    turn = await Turn.of(message, state, texts)
    await turn.begin(session)
    turn.draft.append_text(_text(message))
    turn.talk.mark("what")
    last = turn.talk.last_ref  # "thanks!" after sending is not a new sighting: say how to add
    started = texts("note.report_started_after", ref=last) if last else None
    await turn.advance(note=started or texts("note.report_started"))


async def place_of(message: Message, services: BotServices) -> DraftPlace:
    """The point of a pin, live location or venue, with its coarse label and zone."""
    if message.venue is not None:
        venue = message.venue
        text = ", ".join(part for part in (venue.title, venue.address) if part)
        return await place_at(
            services.geocoder,
            lat=venue.location.latitude,
            lon=venue.location.longitude,
            source="venue",
            text=text,
        )
    point = message.location
    assert point is not None  # HasPlace
    return await place_at(
        services.geocoder,
        lat=point.latitude,
        lon=point.longitude,
        source="live" if point.live_period else "pin",
        accuracy_m=point.horizontal_accuracy,
    )


async def _cases_near(turn: Turn, session: AsyncSession, place: DraftPlace) -> str:
    """Offer the public cases near a shared point, nearest first, each with how far it is."""
    assert place.lat is not None and place.lon is not None
    nearby = await list_cases_near(session, lat=place.lat, lon=place.lon)
    turn.talk.cases = [
        CaseChoice(ref=n.case.ref, name=n.case.full_name, km=round(n.distance_km)) for n in nearby
    ]
    if not nearby:
        return turn.texts("report.case_near_none")
    where = place_label(place, turn.texts.language) or f"{place.lat:.4f}, {place.lon:.4f}"
    return turn.texts("report.case_choose_near", km=int(NEAR_RADIUS_KM), place=where)


async def on_place(
    message: Message,
    state: FSMContext,
    texts: Texts,
    session: AsyncSession,
    services: BotServices,
) -> None:
    """A pin, live location or venue: the place of the sighting (and cases near it)."""
    turn = await Turn.of(message, state, texts)
    await turn.begin(session)
    place = await place_of(message, services)
    name = await turn.current()
    if name == "case":
        note = await _cases_near(turn, session, place)
        if turn.talk.near_search:  # they asked to search near a point, perhaps their home
            await turn.ask("case", note=note)
            return
    turn.draft.set_place(place, now=_now())
    shown = place_label(place, texts.language) or place.text or texts("summary.pin")
    saved = texts("note.place_saved", place=shown)
    if name == "case":
        await turn.ask("case", note=f"{saved}\n{note}")
    elif name in (None, "where", "where_pick"):
        await turn.advance(note=saved)
    else:
        await turn.stay(note=saved)


async def on_media(
    message: Message, state: FSMContext, texts: Texts, session: AsyncSession
) -> None:
    """A photo, video, voice note or picture file: kept in the draft (one reply per album)."""
    found = attachment_of(message)
    if isinstance(found, str):
        await message.answer(texts(found))
        return
    turn = await Turn.of(message, state, texts)
    await turn.begin(session)
    name = await turn.current()
    turn.draft.append_text(message.caption or "")
    key = turn.take_file(found)
    if key is None:
        await turn.keep()
        return
    note = texts(key, count=len(turn.draft.attachments), limit=MAX_ATTACHMENTS)
    if found.kind == "voice" and name in (None, "what"):
        turn.talk.mark("what")  # a voice note is the description
        await turn.advance(note=note)
    elif name is None:
        await turn.advance(note=note)
    else:  # on the photo step the count is in the question itself
        await turn.stay(note=None if name == "media" and key == "note.file_saved" else note)


def build_router() -> Router:
    """What the tipster sends in a report, or to start one (private chats only)."""
    router = Router(name="report_steps")
    router.message.filter(TipsterChat())
    text = PlainText()
    router.message.register(on_case_text, text, StateFilter(Report.case))
    router.message.register(on_what_text, text, StateFilter(Report.what))
    when = StateFilter(Report.when, Report.when_time, Report.when_day)
    router.message.register(on_when_text, text, when)
    router.message.register(on_where_text, text, StateFilter(Report.where, Report.where_pick))
    later = StateFilter(Report.media, Report.contact, Report.confirm)
    router.message.register(on_other_text, text, later)
    router.message.register(on_first_text, text, StateFilter(None))
    in_report = StateFilter(None, Report)
    router.message.register(on_place, HasPlace(), in_report)
    router.message.register(on_media, HasMedia(), in_report)
    return router
