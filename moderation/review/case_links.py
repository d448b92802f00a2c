"""Tip to case: a moderator links a tip, or its whole cluster, to a case, or unlinks it.

A link is what makes a tip the case's: it is scored again against the case at once (travel from
the last-seen place, face similarity with the child's photos, contradictions with the case's
other sightings), and a promising decision then goes to that case's family and police
(moderation/forwarding/forward.py reads tips.case_id). A tip already passed on for a case keeps it:
what went out cannot be taken back. Tips a colleague holds are left to them. Audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.cases.public import PUBLIC_STATUSES
from core.errors import InvalidInput, NotFound
from core.tips.evaluate import rescore_tip
from moderation.policy import require
from moderation.review.queue import ClaimConflict
from moderation.review.tip_access import visible_tip
from storage.models import Case, Forward, StaffUser, Tip, TipCluster
from storage.refs import normalise_ref
from storage.repositories import CaseRepository
from storage.types import utcnow

LINKABLE = PUBLIC_STATUSES  # verified or active: a case moderators and families work on
MAX_CLUSTER = 500


@dataclass(frozen=True, slots=True)
class Relinked:
    """What a link or unlink did: the tips moved, and those left alone with the reason."""

    case_ref: str | None
    moved: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


async def linkable_case(session: AsyncSession, *, case_ref: str) -> Case:
    """The case behind a typed reference, if tips may be linked to it."""
    ref = normalise_ref(case_ref)
    if not ref:
        raise InvalidInput("give the reference of the case to link to")
    case = await CaseRepository(session).get_by_ref(ref)
    if case is None:
        raise NotFound(f"no case has the reference {ref}")
    if case.status not in LINKABLE:
        raise InvalidInput(
            f"case {case.ref} is {case.status}: tips can be linked only to verified or active cases"
        )
    return case


def _held_by_other(tip: Tip, staff: StaffUser, now: datetime) -> bool:
    return (
        tip.claimed_by is not None
        and tip.claimed_by != staff.id
        and tip.claim_expires_at is not None
        and tip.claim_expires_at > now
    )


async def _why_not(session: AsyncSession, tip: Tip, case: Case | None, staff: StaffUser) -> str:
    """Why this tip cannot move to `case` (None: unlink); '' when it can."""
    if case is None and tip.case_id is None:
        return f"tip {tip.ref} is not linked to a case"
    if case is not None and tip.case_id == case.id:
        return f"tip {tip.ref} is already linked to case {case.ref}"
    if _held_by_other(tip, staff, utcnow()):
        return f"tip {tip.ref} is being reviewed by a colleague"
    passed_on = await session.scalar(
        select(Case.ref)
        .join(Forward, Forward.case_id == Case.id)
        .where(Forward.tip_id == tip.id)
        .limit(1)
    )
    if passed_on is not None:
        return f"tip {tip.ref} was already passed on for case {passed_on}; that cannot be undone"
    return ""


async def _tips(session: AsyncSession, tip: Tip, whole_cluster: bool) -> tuple[list[Tip], str]:
    """The tip, or every tip of its cluster (the opened one first), and the cluster's ref."""
    if not whole_cluster:
        return [tip], ""
    if tip.cluster_id is None:
        raise InvalidInput(f"tip {tip.ref} is in no cluster; link the tip alone")
    cluster = await session.get(TipCluster, tip.cluster_id)
    stmt = (
        select(Tip)
        .where(Tip.cluster_id == tip.cluster_id, Tip.id != tip.id)
        .order_by(Tip.id)
        .limit(MAX_CLUSTER)
    )
    members = list((await session.scalars(stmt)).all())
    return [tip, *members], cluster.ref if cluster else ""


async def _move(
    session: AsyncSession, *, tip: Tip, case: Case | None, staff: StaffUser, cluster_ref: str
) -> None:
    old = await session.get(Case, tip.case_id) if tip.case_id else None
    tip.case_id = case.id if case else None
    await session.flush()  # scoring reads the case's other sightings
    if case is not None:
        reason = f"Linked to case {case.ref} by {staff.email}."
    else:
        reason = f"Unlinked from case {old.ref if old else '?'} by {staff.email}."
    await rescore_tip(session, tip=tip, now=utcnow(), reason=reason)
    detail = {"case": case.ref if case else None, "from": old.ref if old else None}
    await staff_action(
        session,
        staff,
        "tip.link_case" if case else "tip.unlink_case",
        "tip",
        tip.ref,
        detail=detail | ({"cluster": cluster_ref} if cluster_ref else {}),
    )


async def relink(
    session: AsyncSession,
    *,
    staff: StaffUser,
    tip_ref: str,
    case_ref: str | None,
    whole_cluster: bool = False,
) -> Relinked:
    """Link the tip (or its cluster) to the case, or unlink it with case_ref None. The opened
    tip must be movable (else InvalidInput and nothing changes); members that are not are
    skipped with the reason. Commits."""
    require(staff, "tip.link", "your role may not link tips to cases")
    tip = await visible_tip(session, staff=staff, ref=tip_ref, action="tip.link")
    case = await linkable_case(session, case_ref=case_ref) if case_ref is not None else None
    if case is None and case_ref is None and tip.case_id is None:
        raise InvalidInput(f"tip {tip.ref} is not linked to a case; nothing changed")
    tips, cluster_ref = await _tips(session, tip, whole_cluster)
    result = Relinked(case_ref=case.ref if case else None)
    for member in tips:
        why = await _why_not(session, member, case, staff)
        if why and member is tip and not whole_cluster:
            raise _refusal(why, claimed=_held_by_other(member, staff, utcnow()))
        if why:
            result.skipped.append((member.ref, why))
            continue
        await _move(session, tip=member, case=case, staff=staff, cluster_ref=cluster_ref)
        result.moved.append(member.ref)
    if whole_cluster and tip.cluster_id is not None:
        cluster = await session.get(TipCluster, tip.cluster_id)
        if cluster is not None:
            cluster.case_id = case.id if case else None
    await session.commit()
    return result


def _refusal(why: str, *, claimed: bool) -> Exception:
    if claimed:
        return ClaimConflict(why)
    return InvalidInput(f"{why}; nothing changed")
