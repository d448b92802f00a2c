"""Answers that come back: a tipster's answer to a moderator's question puts the tip back in
the queue as "answered" (ranked above received tips of the same score), counts on the asker's
dashboard badge, and is announced in the moderators' group when one is configured.

A moderator asks again by deciding "needs info" once more: as many rounds as needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.delivery.outbox import chat_recipient, enqueue, telegram_text
from core.i18n import Texts
from core.tips.submission import append_answer
from moderation.cases.cards import PREVIEW, redact
from storage.models import StaffUser, Tip

ANSWERED = "answered"
WAITING = ("needs_info", ANSWERED)  # a question is out: an answer brings the tip back


@dataclass(frozen=True, slots=True)
class GroupNotice:
    """Where the moderators' group is (None in BotServices turns the notice off)."""

    chat_id: int
    base_url: str
    language: str = "en"


def asker_name(staff: StaffUser | None) -> str:
    """How the group names a colleague: the local part of their e-mail, as on decided cards."""
    return staff.email.split("@", 1)[0] if staff is not None else "?"


async def _back_in_queue(session: AsyncSession, tip: Tip) -> tuple[bool, int | None]:
    """needs_info (or answered) -> answered, unless a moderator decided it meanwhile; whether
    it did, and who asked the question (read in the same statement, never stale)."""
    result = await session.execute(
        update(Tip)
        .where(Tip.id == tip.id, Tip.status.in_(WAITING))
        .values(status=ANSWERED, answered=True)
        .returning(Tip.asked_by)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    return row is not None, row[0] if row is not None else None


async def _notify_group(
    session: AsyncSession,
    tip: Tip,
    notice: GroupNotice,
    *,
    asked_by: int | None,
    text: str,
    round_number: int,
) -> None:
    texts = Texts(notice.language)
    asker = await session.get(StaffUser, asked_by) if asked_by else None
    preview = redact(" ".join(text.split()), texts("mod.hidden"))
    if len(preview) > PREVIEW:
        preview = preview[:PREVIEW] + "…"
    message = "\n".join(
        [
            texts("mod.answer_title", ref=tip.ref, asker=asker_name(asker)),
            "",
            preview,
            "",
            texts("mod.card_link", url=f"{notice.base_url.rstrip('/')}/tips/{tip.ref}"),
        ]
    )
    await enqueue(
        session,
        channel="telegram",
        recipient=chat_recipient(notice.chat_id),
        payload=telegram_text(message, protect=True),
        key=f"modanswer:{notice.chat_id}:{tip.id}:{round_number}",
    )


async def receive_answer(
    session: AsyncSession,
    *,
    ref: str,
    tipster_id: int,
    text: str,
    group: GroupNotice | None = None,
) -> Tip:
    """Keep the answer on the tipster's own tip and, while a question is out, put the tip back
    in the queue as answered and tell the moderators' group; audited; commits."""
    tip = await append_answer(session, ref=ref, tipster_id=tipster_id, text=text)
    count = len(tip.details.get("answers", ()))
    waiting, asked_by = await _back_in_queue(session, tip)
    if waiting and group is not None:
        await _notify_group(session, tip, group, asked_by=asked_by, text=text, round_number=count)
    await record(
        session,
        actor_role="tipster",
        action="tip.answer",
        object_type="tip",
        object_ref=tip.ref,
        detail={"answers": count, "back_in_queue": waiting},
    )
    await session.commit()
    return tip


async def count_answers_for(session: AsyncSession, *, staff_id: int) -> int:
    """How many tips wait in the queue with an answer to this staff member's question."""
    stmt = select(func.count(Tip.id)).where(Tip.asked_by == staff_id, Tip.status == ANSWERED)
    return int(await session.scalar(stmt) or 0)
