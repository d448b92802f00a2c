"""Private notes staff keep on a tip: never shown to the tipster or the family."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput
from moderation.policy import require
from moderation.review.tip_access import visible_tip
from storage.models import StaffUser, TipNote

MAX_NOTE = 4000


async def add_note(session: AsyncSession, *, staff: StaffUser, tip_ref: str, text: str) -> TipNote:
    """Keep a private note on a tip the caller may see; audited (without its text). Commits."""
    require(staff, "tip.note", "your role may not write notes")
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("a note needs some text")
    if len(cleaned) > MAX_NOTE:
        raise InvalidInput(f"keep notes under {MAX_NOTE} characters")
    tip = await visible_tip(session, staff=staff, ref=tip_ref, action="tip.note")
    note = TipNote(tip_id=tip.id, staff_id=staff.id, text=cleaned)
    session.add(note)
    await session.flush()
    await staff_action(session, staff, "tip.note", "tip", tip.ref, detail={"note_id": note.id})
    await session.commit()
    return note
