"""A case as staff register it, in the tests of what moderation sends to people: Li Na, last
seen two hours ago at Lianhu, Xi'an, submitted by a senior moderator and moved on through the
lifecycle use case (active: its area alerts go out)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cases.registry import CaseDraft, submit_case
from moderation.cases.lifecycle import transition_case
from storage.models import Case, StaffUser
from storage.types import utcnow
from tests.keys import TEST_VAULT

LAT, LON = 34.261234, 108.942345


async def staff_case(
    sessions: async_sessionmaker[AsyncSession], senior: StaffUser, *, status: str = "verified"
) -> Case:
    """The case, submitted by `senior` and verified (and made active with status="active")."""
    draft = CaseDraft(
        full_name="Li Na",
        age_years=7,
        last_seen_place="Lianhu, Xi'an",
        last_seen_lat=LAT,
        last_seen_lon=LON,
        last_seen_at=utcnow() - timedelta(hours=2),
        description="Red coat, white shoes.",
        contact="family-contact@example.org",
        police_ref="XA-2026-17",
    )
    async with sessions() as session:
        case = await submit_case(
            session, draft=draft, vault=TEST_VAULT, channel="staff", staff_id=senior.id
        )
        for step in ("verified", "active")[: 1 + (status == "active")]:
            case = await transition_case(session, staff=senior, ref=case.ref, to=step)
        return case
