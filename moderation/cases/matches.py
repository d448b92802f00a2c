"""Case matches for moderators: the likely links between cases, and confirming or dismissing one.

A match is a hint (core/cases/matching.py), never a decision: only a moderator confirms that a
found person is a missing child, or that two records are one person. Each decision is audited
and taken once; a second click with the same outcome changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import InvalidInput, NotFound
from moderation.policy import can, require
from storage.models import Case, CaseMatch, CasePhoto, StaffUser
from storage.types import utcnow

ACTION: Final = "case.matches"
STATUSES: Final = ("open", "reviewing", "confirmed", "reunited", "dismissed")
OUTCOMES: Final = ("confirmed", "dismissed")
KINDS: Final = ("found", "duplicate")
MAX_NOTE: Final = 2000
MAX_LISTED: Final = 200
PHOTOS_SHOWN: Final = 3


class MatchAlreadyDecided(Exception):
    """A colleague decided this match the other way meanwhile; nothing changed."""


@dataclass(frozen=True, slots=True)
class MatchSide:
    """One case of a pair, with the display copies of its ready photos."""

    case: Case
    photos: list[str]


@dataclass(frozen=True, slots=True)
class MatchView:
    """A match with both cases side by side."""

    match: CaseMatch
    left: MatchSide
    right: MatchSide

    @property
    def face_similarity(self) -> float | None:
        """The face similarity behind the match (0..1), if faces were compared and close."""
        for reason in self.match.reasons:
            if reason.get("code") == "face":
                return float(reason["params"]["similarity"])
        return None


def _allow(staff: StaffUser) -> None:
    require(staff, ACTION, "your role may not review case matches")


async def list_matches(
    session: AsyncSession, *, staff: StaffUser, status: str = "open", kind: str | None = None
) -> list[MatchView]:
    """Matches of a status (and kind), highest score first, with both cases."""
    _allow(staff)
    if status not in STATUSES or (kind is not None and kind not in KINDS):
        raise InvalidInput("unknown status or kind of match")
    stmt = select(CaseMatch).where(CaseMatch.status == status)
    if kind is not None:
        stmt = stmt.where(CaseMatch.kind == kind)
    stmt = stmt.order_by(CaseMatch.score.desc(), CaseMatch.id).limit(MAX_LISTED)
    matches = (await session.scalars(stmt)).all()
    ids = {m.case_id for m in matches} | {m.other_case_id for m in matches}
    cases = {c.id: c for c in (await session.scalars(select(Case).where(Case.id.in_(ids)))).all()}
    photos = await _photos(session, ids)
    return [
        MatchView(
            match=m,
            left=MatchSide(cases[m.case_id], photos[m.case_id]),
            right=MatchSide(cases[m.other_case_id], photos[m.other_case_id]),
        )
        for m in matches
    ]


@dataclass(frozen=True, slots=True)
class CaseMatchRow:
    """A match as the case page lists it: the other case and the match itself."""

    match: CaseMatch
    other: Case


async def matches_of_case(
    session: AsyncSession, *, staff: StaffUser, case_id: int
) -> list[CaseMatchRow]:
    """The case's matches (it may be on either side), open first, then by score; [] for roles
    that may not see matches."""
    if not can(staff.role, ACTION):
        return []
    stmt = (
        select(CaseMatch)
        .where(or_(CaseMatch.case_id == case_id, CaseMatch.other_case_id == case_id))
        .order_by((CaseMatch.status == "open").desc(), CaseMatch.score.desc(), CaseMatch.id)
        .limit(MAX_LISTED)
    )
    matches = (await session.scalars(stmt)).all()
    others = {m.other_case_id if m.case_id == case_id else m.case_id for m in matches}
    cases = {c.id: c for c in (await session.scalars(select(Case).where(Case.id.in_(others))))}
    return [
        CaseMatchRow(match=m, other=cases[m.other_case_id if m.case_id == case_id else m.case_id])
        for m in matches
    ]


async def _photos(session: AsyncSession, case_ids: set[int]) -> defaultdict[int, list[str]]:
    """The first few sanitised display copies of each case (quarantined ones have none)."""
    stmt = (
        select(CasePhoto.case_id, CasePhoto.display_sha256)
        .where(
            CasePhoto.case_id.in_(case_ids),
            CasePhoto.status == "ready",
            CasePhoto.display_sha256.is_not(None),
        )
        .order_by(CasePhoto.case_id, CasePhoto.position, CasePhoto.id)
    )
    found: defaultdict[int, list[str]] = defaultdict(list)
    for case_id, sha in (await session.execute(stmt)).all():
        if sha and len(found[case_id]) < PHOTOS_SHOWN:
            found[case_id].append(sha)
    return found


async def decide_match(
    session: AsyncSession, *, staff: StaffUser, match_id: int, outcome: str, note: str = ""
) -> CaseMatch:
    """Confirm or dismiss a match once; audited. Commits (nothing to commit on a repeat)."""
    _allow(staff)
    if outcome not in OUTCOMES:
        raise InvalidInput("choose confirmed or dismissed")
    match = await session.get(CaseMatch, match_id)
    if match is None:
        raise NotFound("no such match")
    if outcome == "confirmed" and match.kind == "found" and match.status in ("open", "reviewing"):
        raise InvalidInput(
            "a found person is confirmed with its evidence (DNA test, police identification or "
            "family recognition): use Confirm with evidence"
        )
    result = await session.execute(
        update(CaseMatch)
        .where(CaseMatch.id == match_id, CaseMatch.status.in_(("open", "reviewing")))
        .values(status=outcome, reviewed_by=staff.id, reviewed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(match)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if match.status == outcome:
            return match  # the same decision again (a double click): one effect
        raise MatchAlreadyDecided(f"this match was already {match.status}")
    await staff_action(
        session,
        staff,
        f"case_match.{outcome}",
        "case_match",
        str(match.id),
        reason=note.strip()[:MAX_NOTE] or None,
        detail=await _detail(session, match),
    )
    await session.commit()
    return match


async def _detail(session: AsyncSession, match: CaseMatch) -> dict[str, object]:
    refs: Sequence[str] = (
        await session.scalars(
            select(Case.ref)
            .where(Case.id.in_((match.case_id, match.other_case_id)))
            .order_by(Case.id)
        )
    ).all()
    return {"kind": match.kind, "cases": list(refs), "score": match.score}
