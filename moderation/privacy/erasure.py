"""Erasing a tipster's identity for them, by pseudonym: one senior moderator asks with a reason,
a second one approves (the two-senior rule of approvals.py). Tipsters erase their own with
/forget in the bot."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from core.identity.conversations import RedisConversations
from core.identity.erasure import Erased, erase_identity
from core.identity.vault import Vault
from moderation.privacy.approvals import APPROVED, TwoSeniors, checked_reason
from storage.models import ErasureRequest, StaffUser, Tipster, TipsterIdentity
from storage.photostore import PhotoStore

ERASURE = TwoSeniors(ErasureRequest, "erasure")


async def _tipster_by_pseudonym(session: AsyncSession, pseudonym: str) -> Tipster:
    tipster = await session.scalar(
        select(Tipster).where(Tipster.pseudonym == pseudonym.strip().upper())
    )
    if tipster is None:
        raise NotFound("no tipster has this pseudonym")
    return tipster


async def request_erasure(
    session: AsyncSession, *, staff: StaffUser, pseudonym: str, reason: str
) -> ErasureRequest:
    """Ask to erase a tipster's identity; the pending request if one exists. Commits."""
    ERASURE.allow(staff, "request")
    reason = checked_reason(reason)
    tipster = await _tipster_by_pseudonym(session, pseudonym)
    held = await session.scalar(
        select(TipsterIdentity.id).where(TipsterIdentity.tipster_id == tipster.id)
    )
    if held is None:
        raise InvalidInput("this tipster's identity is already erased")
    return await ERASURE.ask(session, staff=staff, tipster_id=tipster.id, reason=reason)


async def list_pending(session: AsyncSession, *, staff: StaffUser) -> Sequence[ErasureRequest]:
    """Requests waiting for a second senior moderator, oldest first."""
    return await ERASURE.list_pending(session, staff=staff)


async def approve_erasure(
    session: AsyncSession,
    vault: Vault,
    *,
    staff: StaffUser,
    request_id: int,
    originals: PhotoStore | None = None,
    conversations: RedisConversations | None = None,
) -> Erased:
    """A second senior moderator approves: the identity is erased at once, audited. Commits."""
    await ERASURE.approvable(session, staff=staff, request_id=request_id)
    row = await ERASURE.close(session, staff=staff, request_id=request_id, status=APPROVED)
    return await erase_identity(
        session,
        vault,
        tipster_id=row.tipster_id,
        actor_id=staff.id,
        actor_role=staff.role,
        reason=row.reason,
        request_id=row.id,
        originals=originals,
        conversations=conversations,
    )


async def refuse_erasure(
    session: AsyncSession, *, staff: StaffUser, request_id: int, reason: str = ""
) -> ErasureRequest:
    """Refuse (or withdraw one's own) request; audited. Commits."""
    return await ERASURE.refuse(session, staff=staff, request_id=request_id, reason=reason)
