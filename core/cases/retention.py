"""Retention of closed cases' tips: kept for a set time after the case ends, then deleted,
unless something of the tip went to the police (legal hold)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from storage.models import Case, CasePhoto, Forward, Tip, TipPhoto

ENDED = ("found", "closed", "withdrawn")
CHUNK = 500


@dataclass(slots=True)
class Purged:
    """Counts of what went, and the photo files no row names any more (by store)."""

    tips: int = 0
    photos: int = 0
    tips_on_legal_hold: int = 0
    files: dict[str, set[str]] = field(default_factory=dict)


def sent_to_police(tip_id: object) -> Exists:
    """Whether a tip went to the police in a packet: its photos are on legal hold."""
    return exists().where(Forward.tip_id == tip_id, Forward.audience == "police")


async def held_originals(session: AsyncSession) -> set[str]:
    """Originals of photos in police packets: never purged by age."""
    rows = await session.scalars(
        select(TipPhoto.original_sha256).where(
            TipPhoto.original_sha256.is_not(None), sent_to_police(TipPhoto.tip_id)
        )
    )
    return {sha for sha in rows.all() if sha}


async def _expired_tips(session: AsyncSession, cutoff: datetime) -> tuple[list[int], int]:
    ended = func.coalesce(Case.status_changed_at, Case.updated_at)
    stmt = (
        select(Tip.id, sent_to_police(Tip.id))
        .join(Case, Case.id == Tip.case_id)
        .where(Case.status.in_(ENDED), ended < cutoff)
    )
    rows = (await session.execute(stmt)).all()
    return [tip_id for tip_id, held in rows if not held], sum(1 for _, held in rows if held)


async def _unreferenced(session: AsyncSession, shas: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the hashes another photo still names (dedup: one file, several rows)."""
    columns = {
        "originals": (TipPhoto.original_sha256, CasePhoto.original_sha256),
        "display": (TipPhoto.display_sha256, CasePhoto.display_sha256),
        "thumbnails": (TipPhoto.thumb_sha256, CasePhoto.thumb_sha256),
    }
    free = {}
    for store, wanted in shas.items():
        named: set[str | None] = set()
        for column in columns[store]:
            named |= set((await session.scalars(select(column).where(column.in_(wanted)))).all())
        free[store] = wanted - {sha for sha in named if sha}
    return free


async def purge_closed_cases(session: AsyncSession, *, days: int, now: datetime) -> Purged:
    """Delete tips (and their photos' rows) of cases ended more than `days` ago, except those
    on legal hold; returns counts and the files to delete. Commits."""
    tip_ids, held = await _expired_tips(session, now - timedelta(days=days))
    purged = Purged(tips_on_legal_hold=held)
    shas: dict[str, set[str]] = {"originals": set(), "display": set(), "thumbnails": set()}
    for start in range(0, len(tip_ids), CHUNK):
        chunk = tip_ids[start : start + CHUNK]
        photos = (
            await session.execute(
                select(
                    TipPhoto.original_sha256, TipPhoto.display_sha256, TipPhoto.thumb_sha256
                ).where(TipPhoto.tip_id.in_(chunk))
            )
        ).all()
        for original, display, thumb in photos:
            for store, sha in (
                ("originals", original),
                ("display", display),
                ("thumbnails", thumb),
            ):
                if sha:
                    shas[store].add(sha)
        purged.photos += len(photos)
        await session.execute(delete(TipPhoto).where(TipPhoto.tip_id.in_(chunk)))
        result = await session.execute(delete(Tip).where(Tip.id.in_(chunk)))
        purged.tips += int(getattr(result, "rowcount", 0) or 0)
    purged.files = await _unreferenced(session, shas)
    await session.commit()
    return purged
