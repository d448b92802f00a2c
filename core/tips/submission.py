"""Tips: submitting one (exactly once), its public status, and additions by its tipster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound, RateLimited
from core.tips.drafts import MAX_TEXT, Attachment, Draft, DraftPlace
from storage.models import Case, Tip, TipPhoto
from storage.refs import normalise_ref
from storage.repositories import CaseRepository, TipRepository
from storage.sqlite_driver import inline
from storage.types import utcnow

# What a tipster may learn about their tip: never details of the investigation.
PUBLIC_STATUS = {
    "received": "received",
    "under_review": "under_review",
    "needs_info": "under_review",
    "answered": "under_review",
    "promising": "passed_on",
    "urgent": "passed_on",
    "forwarded": "passed_on",
    "duplicate": "closed",
    "not_relevant": "closed",
    "spam": "closed",
    "closed": "closed",
}


@dataclass(frozen=True, slots=True)
class TipReceipt:
    """What the tipster is told after submitting."""

    ref: str
    created: bool
    files: int


@dataclass(frozen=True, slots=True)
class PublicStatus:
    """A tip's status as its tipster may see it."""

    ref: str
    status: str
    submitted_at: datetime


def _photo_rows(tip_id: int, attachments: list[Attachment]) -> list[TipPhoto]:
    return [
        TipPhoto(
            tip_id=tip_id,
            kind=a.kind,
            source_ref=a.source_ref,
            mime_type=a.mime_type,
            size_bytes=a.size,
            status="quarantined",
        )
        for a in attachments
    ]


def _place_columns(place: DraftPlace | None) -> dict[str, Any]:
    if place is None:
        return {}
    return {
        "place_text": place.label or place.text,
        "lat": place.lat,
        "lon": place.lon,
        "location_source": place.source,
        "location_precision_m": place.precision_m,
    }


def _details(draft: Draft) -> dict[str, Any]:
    details: dict[str, Any] = {"case_unknown": draft.case_unknown}
    if draft.place is not None and (draft.place.text or draft.place.timezone):
        # The venue or the words the tipster typed, and the zone seen_at was read in.
        details["place"] = draft.place.model_dump(exclude_none=True)
    if any(a.unique_id for a in draft.attachments):
        # tip_photos has no column for it yet; the photo worker can dedupe on it.
        details["file_unique_ids"] = {a.source_ref: a.unique_id for a in draft.attachments}
    return details


async def _case_id(session: AsyncSession, case_ref: str | None) -> int | None:
    if not case_ref:
        return None
    case = await CaseRepository(session).get_by_ref(case_ref)
    return case.id if case is not None and case.status in ("verified", "active") else None


# Built once: each runs on every report sent, and building one cost more than running it.
_REF_OF_SOURCE = inline(select(Tip.ref).where(Tip.source_key == bindparam("source_key")))
_TIPS = cast(Table, Tip.__table__)
# By dialect (False: SQLite, True: PostgreSQL): a tip, unless its source_key is stored already.
_INSERT_TIP = tuple(
    inline(
        insert(_TIPS)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(_TIPS.c.id, _TIPS.c.ref)
    )
    for insert in (sqlite_insert, pg_insert)
)
_SENT_SINCE = inline(
    select(func.count(Tip.id)).where(
        Tip.tipster_id == bindparam("tipster_id"), Tip.created_at >= bindparam("since")
    )
)


async def submit_tip(
    session: AsyncSession,
    *,
    draft: Draft,
    channel: str,
    source_key: str,
    tipster_id: int | None,
    language: str,
) -> TipReceipt:
    """Store a tip and its files exactly once per source_key; commits."""
    if not draft.is_submittable:
        raise InvalidInput("a tip needs what you saw, a place or a photo")
    columns = {
        "channel": channel,
        "source_key": source_key,
        "tipster_id": tipster_id,
        "text": draft.text,
        "case_id": await _case_id(session, draft.case_ref),
        "seen_at": draft.seen_at,
        "seen_at_precision": draft.when,
        "contact_allowed": draft.contact_allowed,
        "language": language,
        "details": _details(draft),
        **_place_columns(draft.place),
    }
    # A Core insert (the columns' defaults apply as in a flush): the ORM's unit of work cost
    # several times the insert, and nothing here reads the tip back. A source_key already
    # stored (a repeat of a sent draft) inserts nothing and gets that tip's receipt.
    dialect = session.get_bind().dialect.name
    stored = (await session.execute(_INSERT_TIP[dialect == "postgresql"], columns)).first()
    if stored is None:
        existing = await session.scalar(_REF_OF_SOURCE, {"source_key": source_key})
        await session.commit()  # as after a new tip: no write lock is kept past here
        return TipReceipt(ref=str(existing), created=False, files=len(draft.attachments))
    tip_id, ref = stored
    if draft.attachments:
        session.add_all(_photo_rows(tip_id, draft.attachments))
    await session.commit()
    return TipReceipt(ref=ref, created=True, files=len(draft.attachments))


async def submit_tip_within_limit(
    session: AsyncSession,
    *,
    draft: Draft,
    channel: str,
    source_key: str,
    tipster_id: int,
    language: str,
    max_tips: int,
    window_seconds: float,
) -> TipReceipt:
    """submit_tip, unless the tipster already sent max_tips in the window (RateLimited); commits.

    A repeat of a submitted draft (double tap, reprocessed update) gets its receipt back even
    when that tip was the one that reached the limit.
    """
    since = utcnow() - timedelta(seconds=window_seconds)
    sent = await session.scalar(_SENT_SINCE, {"tipster_id": tipster_id, "since": since})
    if (sent or 0) >= max_tips:
        existing = await session.scalar(_REF_OF_SOURCE, {"source_key": source_key})
        if existing is not None:
            return TipReceipt(ref=existing, created=False, files=len(draft.attachments))
        raise RateLimited("too many tips in a short time; please wait a few minutes")
    return await submit_tip(
        session,
        draft=draft,
        channel=channel,
        source_key=source_key,
        tipster_id=tipster_id,
        language=language,
    )


async def _own_tip(session: AsyncSession, *, ref: str, tipster_id: int | None) -> Tip:
    tip = await TipRepository(session).get_by_ref(normalise_ref(ref))
    # A stranger learns nothing, not even whether the reference exists.
    if tip is None or tip.tipster_id is None or tip.tipster_id != tipster_id:
        raise NotFound("no tip of yours has this reference")
    return tip


async def tip_status(session: AsyncSession, *, ref: str, tipster_id: int | None) -> PublicStatus:
    """The public status of a tipster's own tip; NotFound for anyone else."""
    tip = await _own_tip(session, ref=ref, tipster_id=tipster_id)
    return PublicStatus(
        ref=tip.ref,
        status=PUBLIC_STATUS.get(tip.status, "under_review"),
        submitted_at=tip.created_at,
    )


async def list_tip_statuses(
    session: AsyncSession, *, tipster_id: int, limit: int = 5
) -> list[PublicStatus]:
    """A tipster's latest tips with their public status, newest first."""
    tips = await TipRepository(session).list_by_tipster(tipster_id=tipster_id, limit=limit)
    return [
        PublicStatus(
            ref=tip.ref,
            status=PUBLIC_STATUS.get(tip.status, "under_review"),
            submitted_at=tip.created_at,
        )
        for tip in tips
    ]


async def web_tip_status(session: AsyncSession, *, ref: str) -> PublicStatus:
    """The public status of a web-form tip: its reference is the tipster's only key."""
    tip = await TipRepository(session).get_by_ref(normalise_ref(ref))
    if tip is None or tip.channel != "web":
        raise NotFound("no web tip has this reference")
    return PublicStatus(
        ref=tip.ref,
        status=PUBLIC_STATUS.get(tip.status, "under_review"),
        submitted_at=tip.created_at,
    )


async def add_to_tip(
    session: AsyncSession,
    *,
    ref: str,
    tipster_id: int,
    text: str = "",
    place: DraftPlace | None = None,
    attachments: list[Attachment] | None = None,
) -> Tip:
    """Add text, a place or files to one's own tip; commits."""
    tip = await _own_tip(session, ref=ref, tipster_id=tipster_id)
    additions = list(tip.details.get("additions", []))
    entry: dict[str, Any] = {"at": utcnow().isoformat()}
    if text.strip():
        entry["text"] = text.strip()
    if place is not None:
        if tip.lat is None and tip.place_text is None:
            for column, value in _place_columns(place).items():
                setattr(tip, column, value)
        entry["place"] = place.model_dump(exclude_none=True)
    additions.append(entry)
    tip.details = {**tip.details, "additions": additions}
    session.add_all(_photo_rows(tip.id, attachments or []))
    tip.evaluated_at = None  # the evidence worker scores it again
    await session.commit()
    return tip


async def append_answer(session: AsyncSession, *, ref: str, tipster_id: int, text: str) -> Tip:
    """Keep a tipster's answer to a moderator's question on their own tip (never commits:
    moderation.review.answers.receive_answer puts the tip back in the queue in the same commit)."""
    cleaned = text.strip()[:MAX_TEXT]
    if not cleaned:
        raise InvalidInput("an answer needs some text")
    tip = await _own_tip(session, ref=ref, tipster_id=tipster_id)
    answers = [*tip.details.get("answers", []), {"at": utcnow().isoformat(), "text": cleaned}]
    tip.details = {**tip.details, "answers": answers}
    return tip


async def list_case_choices(session: AsyncSession, *, query: str, limit: int = 5) -> list[Case]:
    """Public cases matching a name or code, for the tipster to pick from."""
    cleaned = query.strip()
    if not cleaned:
        return []
    by_ref = await CaseRepository(session).get_by_ref(normalise_ref(cleaned))
    if by_ref is not None and by_ref.status in ("verified", "active"):
        return [by_ref]
    pattern = f"%{cleaned.lower()}%"
    stmt = (
        select(Case)
        .where(Case.status.in_(("verified", "active")))
        .where(Case.full_name.ilike(pattern) | Case.nicknames.ilike(pattern))
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
