"""/status REF and /add REF: a tipster's own tips, and what they add to them later."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.geo import GeocodingService
from core.i18n import Texts
from core.tips.drafts import Attachment
from core.tips.submission import PublicStatus, add_to_tip, list_tip_statuses, tip_status
from handlers.common.where import place_of
from handlers.engine.channel import Point
from handlers.engine.wizard import Conversation
from handlers.report.flow import Turn
from handlers.report.views import finish
from storage.models import Tipster

REF_CHARS = 20
"""A tip's reference is shorter than this; anything longer is cut before the lookup."""
ADDING, ANSWERING = "Adding:tip", "Answering:tip"
"""The states in which what the tipster sends goes onto a sent tip."""


def _line(texts: Texts, ref: str, status: str, day: str) -> str:
    return texts("status.line", ref=ref, status=texts(f"status.{status}"), date=day)


async def own_tip(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, ref: str
) -> PublicStatus | None:
    """The tipster's own tip by reference; anyone else's (or none) is said to be not found."""
    try:
        return await tip_status(session, ref=ref[:REF_CHARS], tipster_id=tipster.id)
    except NotFound:
        await conversation.say(conversation.texts("status.not_found"))
        return None


async def show_my_tips(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster
) -> None:
    """The tipster's recent tips and their public status."""
    texts = conversation.texts
    tips = await list_tip_statuses(session, tipster_id=tipster.id)
    if not tips:
        await conversation.say(texts("status.none"))
        return
    lines = [_line(texts, t.ref, t.status, f"{t.submitted_at:%Y-%m-%d}") for t in tips]
    await conversation.say("\n".join([texts("status.title"), *lines]))


async def show_status(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, argument: str | None
) -> None:
    """/status REF: one's own tip; anyone else learns nothing. /status: one's recent tips."""
    if not argument:
        await show_my_tips(conversation, session, tipster=tipster)
        return
    found = await own_tip(conversation, session, tipster=tipster, ref=argument)
    if found is not None:
        texts, day = conversation.texts, f"{found.submitted_at:%Y-%m-%d}"
        line = _line(texts, found.ref, found.status, day)
        await conversation.say(f"{line}\n\n{texts('status.next')}")


async def start_adding(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, argument: str | None
) -> None:
    """/add REF: what comes next goes onto that tip, until Done (a report in progress waits)."""
    texts = conversation.texts
    if not argument:
        await conversation.say(texts("add.usage"))
        return
    found = await own_tip(conversation, session, tipster=tipster, ref=argument)
    if found is not None:
        turn = await Turn.of(conversation)
        turn.suspend(found.ref, ADDING)
        await turn.say(texts("add.ask", ref=found.ref), finish(texts))


async def _add(turn: Turn, session: AsyncSession, tipster: Tipster, **addition: Any) -> None:
    ref = turn.talk.target_ref
    if ref is None:
        await turn.resume(note=turn.texts("report.stale_button"))
        return
    try:
        await add_to_tip(session, ref=ref, tipster_id=tipster.id, **addition)
    except NotFound:
        await turn.resume(note=turn.texts("status.not_found"))
        return
    await turn.say(turn.texts("add.added", ref=ref), finish(turn.texts))


async def add_text(
    conversation: Conversation, session: AsyncSession, *, tipster: Tipster, text: str
) -> None:
    """More words for a sent tip."""
    await _add(await Turn.of(conversation), session, tipster, text=text)


async def add_place(
    conversation: Conversation,
    session: AsyncSession,
    *,
    tipster: Tipster,
    point: Point,
    geocoder: GeocodingService,
) -> None:
    """A place for a sent tip (kept as an addition; the tip's own place is not overwritten)."""
    turn = await Turn.of(conversation)
    await _add(turn, session, tipster, place=await place_of(point, geocoder))


async def add_file(
    conversation: Conversation,
    session: AsyncSession,
    *,
    tipster: Tipster,
    file: Attachment | str,
    caption: str,
) -> None:
    """A photo or video for a sent tip (one reply per album); `file` is the text key saying why
    a file cannot be used, when it cannot."""
    if isinstance(file, str):
        await conversation.say(conversation.texts(file))
        return
    turn = await Turn.of(conversation)
    album = file.media_group_id
    if album and turn.talk.album == album:
        ref = turn.talk.target_ref or ""
        await add_to_tip(session, ref=ref, tipster_id=tipster.id, attachments=[file])
        return
    turn.talk.album = album
    await _add(turn, session, tipster, text=caption, attachments=[file])


async def done_adding(conversation: Conversation) -> None:
    """Done adding (or answering): back to where the tipster was."""
    turn, texts = await Turn.of(conversation), conversation.texts
    ref = turn.talk.target_ref
    await turn.resume(note=texts("add.done", ref=ref) if ref else texts("report.stale_button"))
