"""Who may see which tip and photo: refusals are recorded as "access.denied" in the audit trail.

The policy table says which roles may view tips at all; on top of it, a police liaison sees only
the leads passed on to them. Display photos are served only for a tip (or case) the caller may
see; originals only to the roles with field.original_photo, and every such view is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import staff_action
from core.errors import NotFound
from core.identity.roles import Role
from moderation.policy import can
from storage.models import CasePhoto, StaffUser, Tip, TipPhoto
from storage.refs import normalise_ref
from storage.repositories import TipRepository

# Leads passed on by a moderator: the only tips a police liaison sees.
PASSED_ON = frozenset({"promising", "urgent", "forwarded"})


class AccessDenied(PermissionError):
    """The caller's role may not see or do this; the attempt is in the audit trail."""


def may_view_tip(role: str, tip: Tip) -> bool:
    """tip.view; police liaisons see only the leads passed on to them."""
    if not can(role, "tip.view"):
        return False
    return role != Role.POLICE_LIAISON or tip.status in PASSED_ON


async def record_denied(
    session: AsyncSession, *, staff: StaffUser, action: str, object_type: str, object_ref: str
) -> None:
    """Write access.denied to the audit trail, and nothing else. Commits."""
    await staff_action(
        session, staff, "access.denied", object_type, object_ref[:64], detail={"wanted": action}
    )
    await session.commit()


async def visible_tip(
    session: AsyncSession, *, staff: StaffUser, ref: str, action: str = "tip.view"
) -> Tip:
    """The tip behind ref if the caller may see it; AccessDenied (audited) or NotFound."""
    tip = await TipRepository(session).get_by_ref(normalise_ref(ref))
    if tip is None:
        raise NotFound("no such tip")
    if not may_view_tip(staff.role, tip):
        await record_denied(session, staff=staff, action=action, object_type="tip", object_ref=ref)
        raise AccessDenied("your role may not see this tip")
    return tip


async def display_photo(session: AsyncSession, *, staff: StaffUser, sha: str) -> str:
    """Authorise one of our clean display copies: it must belong to a tip (or a case) the caller
    may see. Returns sha; NotFound when it is no display copy at all (an original's hash, say)."""
    tips = (
        await session.scalars(
            select(Tip)
            .join(TipPhoto, TipPhoto.tip_id == Tip.id)
            .where(TipPhoto.display_sha256 == sha)
        )
    ).all()
    if any(may_view_tip(staff.role, t) for t in tips):
        return sha
    case_photo = await session.scalar(
        select(CasePhoto.id).where(CasePhoto.display_sha256 == sha).limit(1)
    )
    if case_photo is not None and can(staff.role, "case.view"):
        return sha
    if not tips and case_photo is None:
        raise NotFound("no such photo")
    await record_denied(
        session, staff=staff, action="tip.view", object_type="photo", object_ref=sha
    )
    raise AccessDenied("your role may not see this photo")


async def original_photo(session: AsyncSession, *, staff: StaffUser, sha: str) -> str:
    """Authorise an original (EXIF and all) for the roles allowed it; audited. Commits."""
    tip = await session.scalar(
        select(Tip)
        .join(TipPhoto, TipPhoto.tip_id == Tip.id)
        .where(TipPhoto.original_sha256 == sha)
        .limit(1)
    )
    if tip is None:
        raise NotFound("no such photo")
    if not (can(staff.role, "field.original_photo") and may_view_tip(staff.role, tip)):
        await record_denied(
            session, staff=staff, action="field.original_photo", object_type="photo", object_ref=sha
        )
        raise AccessDenied("your role may not see originals")
    await staff_action(
        session, staff, "photo.original.view", "tip", tip.ref, detail={"sha256": sha}
    )
    await session.commit()
    return sha
