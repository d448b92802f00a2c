"""Panels of the tip page for the moderator's loop: face matches with their verdicts, the
latest question and the answers to it, the score's history, and the cases a tip may be linked to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.cases.public import PUBLIC_STATUSES
from storage.models import (
    Case,
    CasePhoto,
    Decision,
    FaceEmbedding,
    FaceMatch,
    FaceVerdict,
    StaffUser,
    Tip,
    TipPhoto,
    TipScore,
)

CASE_CHOICES = 200
HISTORY = 50


@dataclass(frozen=True, slots=True)
class FaceView:
    """A face match, both faces from display copies, with the case and any verdict on it."""

    similarity: float
    tip_sha: str | None
    case_sha: str | None
    case_ref: str = ""
    case_name: str = ""
    verdict: str | None = None
    verdict_by: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerView:
    """The latest question to the tipster, who asked it, and the answers given since."""

    question: str
    asked_by: str
    asked_at: datetime
    answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScoreEntry:
    """One change of the score."""

    at: datetime
    score: float
    reason: str


async def _verdicts(session: AsyncSession, tip_id: int) -> dict[int, tuple[str, str]]:
    stmt = (
        select(FaceVerdict.case_id, FaceVerdict.verdict, StaffUser.email)
        .join(StaffUser, StaffUser.id == FaceVerdict.staff_id)
        .where(FaceVerdict.tip_id == tip_id)
    )
    return {case_id: (verdict, who) for case_id, verdict, who in await session.execute(stmt)}


async def face_views(session: AsyncSession, tip_id: int) -> list[FaceView]:
    """The tip's best face matches, each with its case and the verdict, if one was given."""
    tip_face, case_face = aliased(FaceEmbedding), aliased(FaceEmbedding)
    stmt = (
        select(
            FaceMatch.similarity,
            TipPhoto.display_sha256,
            CasePhoto.display_sha256,
            FaceMatch.case_id,
            Case.ref,
            Case.full_name,
        )
        .join(tip_face, tip_face.id == FaceMatch.tip_face_id)
        .join(case_face, case_face.id == FaceMatch.case_face_id)
        .join(Case, Case.id == FaceMatch.case_id)
        .outerjoin(TipPhoto, TipPhoto.id == tip_face.tip_photo_id)
        .outerjoin(CasePhoto, CasePhoto.id == case_face.case_photo_id)
        .where(FaceMatch.tip_id == tip_id)
        .order_by(FaceMatch.similarity.desc())
        .limit(10)
    )
    verdicts = await _verdicts(session, tip_id)
    views = []
    for similarity, tip_sha, case_sha, case_id, ref, name in await session.execute(stmt):
        verdict, who = verdicts.get(case_id, (None, None))
        views.append(
            FaceView(similarity, tip_sha, case_sha, ref, name, verdict=verdict, verdict_by=who)
        )
    return views


def _answers_since(tip: Tip, since: datetime) -> list[dict[str, Any]]:
    found = []
    for answer in tip.details.get("answers", ()):
        try:
            at = datetime.fromisoformat(str(answer.get("at", "")))
        except ValueError:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if at >= since:
            found.append({"at": at, "text": str(answer.get("text", ""))})
    return found


async def answer_view(session: AsyncSession, tip: Tip) -> AnswerView | None:
    """The latest question and the answers that came after it (None when nobody asked)."""
    stmt = (
        select(Decision, StaffUser.email)
        .join(StaffUser, StaffUser.id == Decision.staff_id)
        .where(Decision.tip_id == tip.id, Decision.outcome == "needs_info")
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    decision, who = row
    return AnswerView(
        question=str(decision.details.get("question", "")),
        asked_by=who,
        asked_at=decision.created_at,
        answers=_answers_since(tip, decision.created_at),
    )


async def score_history(session: AsyncSession, tip_id: int) -> list[ScoreEntry]:
    """The latest changes of the tip's score, newest first."""
    stmt = (
        select(TipScore.at, TipScore.score, TipScore.reason)
        .where(TipScore.tip_id == tip_id)
        .order_by(TipScore.at.desc(), TipScore.id.desc())
        .limit(HISTORY)
    )
    return [ScoreEntry(at, score, reason) for at, score, reason in await session.execute(stmt)]


async def case_choices(session: AsyncSession) -> list[tuple[str, str]]:
    """(ref, name) of the cases a tip may be linked to, for the link form's suggestions."""
    stmt = (
        select(Case.ref, Case.full_name)
        .where(Case.status.in_(PUBLIC_STATUSES))
        .order_by(Case.created_at.desc())
        .limit(CASE_CHOICES)
    )
    return [(ref, name) for ref, name in await session.execute(stmt)]
