"""What the tipster sends during a report: taken into the draft whatever step they are on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.public import NEAR_RADIUS_KM, list_cases_near
from core.geo import GeocodingService
from core.tips.drafts import MAX_ATTACHMENTS, Attachment, DraftPlace
from core.tips.places import place_label
from core.tips.submission import list_case_choices
from handlers.common import when, where
from handlers.engine.channel import Point
from handlers.report.flow import Turn
from handlers.report.state import CaseChoice


def _now() -> datetime:
    return datetime.now(UTC)


async def _case_text(turn: Turn, text: str, session: AsyncSession) -> None:
    """A name or code: offer the public cases that match."""
    cases = await list_case_choices(session, query=text[:100])
    turn.talk.cases = [CaseChoice(ref=c.ref, name=c.full_name) for c in cases]
    note = "report.case_choose" if cases else "report.case_none"
    await turn.ask("case", note=turn.texts(note, query=text[:100]))


async def _what_text(turn: Turn, text: str) -> None:
    """What was seen; the next step follows."""
    kept = turn.draft.append_text(text)
    turn.talk.mark("what")
    await turn.advance(note=None if kept else turn.texts("note.text_cut"))


async def _first_text(turn: Turn, text: str, session: AsyncSession) -> None:
    """Text with no conversation going: a report starts with it as what was seen."""
    await turn.begin(session)
    turn.draft.append_text(text)
    turn.talk.mark("what")
    last = turn.talk.last_ref  # "thanks!" after sending is not a new sighting: say how to add
    started = turn.texts("note.report_started_after", ref=last) if last else None
    await turn.advance(note=started or turn.texts("note.report_started"))


async def on_text(turn: Turn, text: str, session: AsyncSession, geocoder: GeocodingService) -> None:
    """Typed text, read as the answer to the step on screen (on a later step: more of what was
    seen); with no report going, a report starts with it."""
    name = turn.current
    if name == "case":
        await _case_text(turn, text, session)
    elif name == "what":
        await _what_text(turn, text)
    elif name in ("when", "when_time", "when_day"):
        await when.typed(turn, turn.draft, text)
    elif name in ("where", "where_pick"):
        await where.typed(turn, turn.talk, turn.draft, text, geocoder)
    elif name is None:
        await _first_text(turn, text, session)
    else:
        kept = turn.draft.append_text(text)
        await turn.stay(note=turn.texts("note.text_added" if kept else "note.text_cut"))


async def _cases_near(turn: Turn, session: AsyncSession, place: DraftPlace) -> str:
    assert place.lat is not None and place.lon is not None
    nearby = await list_cases_near(session, lat=place.lat, lon=place.lon)
    turn.talk.cases = [
        CaseChoice(ref=n.case.ref, name=n.case.full_name, km=round(n.distance_km)) for n in nearby
    ]
    if not nearby:
        return turn.texts("report.case_near_none")
    named = place_label(place, turn.texts.language) or f"{place.lat:.4f}, {place.lon:.4f}"
    return turn.texts("report.case_choose_near", km=int(NEAR_RADIUS_KM), place=named)


async def on_place(
    turn: Turn, point: Point, session: AsyncSession, geocoder: GeocodingService
) -> None:
    """A shared point: the place of the sighting (and, on the case step, cases near it)."""
    await turn.begin(session)
    place = await where.place_of(point, geocoder)
    name = turn.current
    if name == "case":
        note = await _cases_near(turn, session, place)
        if turn.talk.near_search:  # they asked to search near a point, perhaps their home
            await turn.ask("case", note=note)
            return
    turn.draft.set_place(place, now=_now())
    saved = where.saved_note(turn.texts, place)
    if name == "case":
        await turn.ask("case", note=f"{saved}\n{note}")
    elif name in (None, "where", "where_pick"):
        await turn.advance(note=saved)
    else:
        await turn.stay(note=saved)


async def on_media(turn: Turn, found: Attachment, caption: str, session: AsyncSession) -> None:
    """A photo, video, voice note or picture file: kept in the draft (one reply per album)."""
    await turn.begin(session)
    name = turn.current
    turn.draft.append_text(caption)
    key = turn.take_file(found)
    if key is None:
        return  # the rest of an album: answered once, at its first file
    note = turn.texts(key, count=len(turn.draft.attachments), limit=MAX_ATTACHMENTS)
    if found.kind == "voice" and name in (None, "what"):
        turn.talk.mark("what")  # a voice note is the description
        await turn.advance(note=note)
    elif name is None:
        await turn.advance(note=note)
    else:  # on the photo step the count is in the question itself
        await turn.stay(note=None if name == "media" and key == "note.file_saved" else note)
