"""A volunteer who signs up, moves or resumes after a case's alerts went out still hears about it.

The alert worker reaches people as a case's radius grows; someone who arrives inside an area the
radius already covers would otherwise never hear of that child. Here they get the active cases
that cover them now (nearest first, within their daily cap), the same alert everyone else got.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.dispatch import DEFAULT_PER_DAY, send_alerts
from core.alerts.recipients import Recipient
from core.geo import distance_km
from storage.models import Case, CaseAlert, Subscription

DAY = timedelta(hours=24)


async def catch_up_volunteer(
    session: AsyncSession,
    *,
    subscription: Subscription,
    now: datetime,
    per_day: int = DEFAULT_PER_DAY,
) -> int:
    """Alert this volunteer about active cases whose alert area covers them; how many. Never
    commits (the volunteer's own use case does)."""
    if subscription.paused or subscription.lat is None or subscription.lon is None:
        return 0
    await session.flush()  # a new subscription needs its id
    room = per_day - await _alerts_today(session, subscription.id, now)
    if room <= 0:
        return 0
    covering = await _covering(session, subscription)
    for distance, case in covering[:room]:
        recipient = Recipient(
            subscription_id=subscription.id,
            tipster_id=subscription.tipster_id,
            language=subscription.language,
            timezone=subscription.timezone,
            quiet_start_min=subscription.quiet_start_min,
            quiet_end_min=subscription.quiet_end_min,
            distance_km=distance,
        )
        radius = float(case.alert_radius_km or 0.0)
        await send_alerts(session, case=case, recipients=[recipient], radius_km=radius, now=now)
    return min(room, len(covering))


async def _alerts_today(session: AsyncSession, subscription_id: int, now: datetime) -> int:
    stmt = select(func.count(CaseAlert.id)).where(
        CaseAlert.subscription_id == subscription_id,
        CaseAlert.kind == "alert",
        CaseAlert.created_at > now - DAY,
    )
    return int(await session.scalar(stmt) or 0)


async def _covering(session: AsyncSession, sub: Subscription) -> list[tuple[float, Case]]:
    """Active missing-child cases (few at any time) whose covered radius and the volunteer's own
    radius both reach, not yet alerted to this volunteer; nearest first."""
    alerted = select(CaseAlert.case_id).where(
        CaseAlert.subscription_id == sub.id, CaseAlert.kind == "alert"
    )
    stmt = select(Case).where(
        Case.kind == "missing",
        Case.status == "active",
        Case.alert_lat.is_not(None),
        Case.alert_lon.is_not(None),
        Case.alert_radius_km.is_not(None),
        Case.id.not_in(alerted),
    )
    found = []
    assert sub.lat is not None and sub.lon is not None
    for case in (await session.scalars(stmt)).all():
        assert case.alert_lat is not None and case.alert_lon is not None
        distance = distance_km((sub.lat, sub.lon), (case.alert_lat, case.alert_lon))
        if distance <= float(case.alert_radius_km or 0) and distance <= float(sub.radius_km or 0):
            found.append((distance, case))
    found.sort(key=lambda pair: pair[0])
    return found
