"""Area alerts: when a missing child's case is active, volunteers around the last-seen place hear.

The radius grows with the time since the child was last seen (settings.alert_radii_km, one step
every settings.alert_step_minutes). Each volunteer hears about a case once, at most
`per_day` times a day in all, and never during their quiet hours (the message waits until they
end). Found or closed: pending alerts are cancelled and everyone alerted hears the news.

These functions write in the caller's transaction and never commit (moderation/case_lifecycle
calls them inside its own; workers/alerts.py commits per case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts.messages import alert_notice, ended_notice
from core.alerts.recipients import Recipient, deliver_at, find_recipients
from core.delivery import outbox, people
from core.geo import validate_point
from core.whatsapp.replies import REPLY
from storage.models import Case, CaseAlert, CasePhoto, OutboxMessage, Subscription

DEFAULT_RADII = (100.0, 200.0, 300.0, 500.0)
DEFAULT_STEP_MINUTES = 60
DEFAULT_PER_DAY = 3


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """How alerts grow and how many a volunteer gets (built once from settings)."""

    radii_km: tuple[float, ...] = DEFAULT_RADII
    step_minutes: int = DEFAULT_STEP_MINUTES
    per_day: int = DEFAULT_PER_DAY


DEFAULT_POLICY = AlertPolicy()
CANCELLED = "cancelled"
INSERT_CHUNK = 2000


def radius_at(elapsed: timedelta, *, radii: Sequence[float], step_minutes: int) -> float:
    """The alert radius this long after the last sighting: radius i from i steps on."""
    if not radii or step_minutes < 1:
        raise ValueError("alert radii and a step of at least one minute are needed")
    step = max(0, int(elapsed.total_seconds() // (step_minutes * 60)))
    return float(radii[min(step, len(radii) - 1)])


def alertable(case: Case) -> bool:
    """Whether this case may alert volunteers: an active missing-child case with a point."""
    has_point = case.alert_lat is not None or case.last_seen_lat is not None
    return case.kind == "missing" and case.status == "active" and has_point


def alert_key(case_id: int, subscription_id: int, kind: str = "alert") -> str:
    """The outbox idempotency key of one alert (or its "ended" news) to one volunteer."""
    return f"{kind}:{case_id}:{subscription_id}"


async def start_case_alerts(
    session: AsyncSession, *, case: Case, now: datetime, policy: AlertPolicy = DEFAULT_POLICY
) -> int:
    """Centre the alerts on the last-seen point and alert volunteers in the current radius."""
    if not alertable(case):
        return 0
    if case.alert_lat is None or case.alert_lon is None:
        case.alert_lat, case.alert_lon = case.last_seen_lat, case.last_seen_lon
    if case.alert_from_at is None:
        case.alert_from_at = min(case.last_seen_at or now, now)
    return await extend_case_alerts(session, case=case, now=now, policy=policy)


async def extend_case_alerts(
    session: AsyncSession, *, case: Case, now: datetime, policy: AlertPolicy = DEFAULT_POLICY
) -> int:
    """Alert the volunteers the case's current radius newly covers; returns how many."""
    if not alertable(case) or case.alert_lat is None or case.alert_lon is None:
        return 0
    elapsed = now - (case.alert_from_at or now)
    # A policy built from empty settings gets the defaults (those of settings.py).
    radii = tuple(policy.radii_km) or DEFAULT_RADII
    step_minutes = policy.step_minutes or DEFAULT_STEP_MINUTES
    radius = radius_at(elapsed, radii=radii, step_minutes=step_minutes)
    found = await find_recipients(
        session,
        case_id=case.id,
        lat=case.alert_lat,
        lon=case.alert_lon,
        radius_km=radius,
        per_day=policy.per_day,
        now=now,
    )
    case.alert_radius_km = radius
    if not found:
        return 0
    return await send_alerts(session, case=case, recipients=found, radius_km=radius, now=now)


async def _display_photo(session: AsyncSession, case_id: int) -> str | None:
    stmt = (
        select(CasePhoto.display_sha256)
        .where(
            CasePhoto.case_id == case_id,
            CasePhoto.status == "ready",
            CasePhoto.display_sha256.is_not(None),
        )
        .order_by(CasePhoto.position, CasePhoto.id)
        .limit(1)
    )
    return await session.scalar(stmt)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


async def _record(
    session: AsyncSession, *, case_id: int, kind: str, rows: list[dict[str, Any]]
) -> set[int]:
    """Insert CaseAlert rows (once per case, volunteer and kind); the volunteers really added."""
    added: set[int] = set()
    stmt = (
        _insert(session, CaseAlert.__table__)
        .on_conflict_do_nothing(index_elements=["case_id", "subscription_id", "kind"])
        .returning(CaseAlert.__table__.c.subscription_id)
    )
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = [
            {"case_id": case_id, "kind": kind, **row} for row in rows[start : start + INSERT_CHUNK]
        ]
        added.update((await session.execute(stmt.values(chunk))).scalars().all())
    return added


async def _enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Outbox rows in bulk (same shape and idempotency as core.delivery.outbox.enqueue)."""
    stmt = _insert(session, OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"]
    )
    for start in range(0, len(rows), INSERT_CHUNK):
        await session.execute(stmt.values(rows[start : start + INSERT_CHUNK]))
    if rows:
        outbox._ring_after_commit(session.sync_session)  # wake the relay once it is committed


def _outbox_rows(
    *,
    key: str,
    tipster_id: int,
    channel: str,
    notice: people.Notice,
    now: datetime,
    due: datetime,
) -> list[dict[str, Any]]:
    """The rows that tell `notice` to the volunteer on their channel (core.delivery.people)."""
    return [
        {
            "idempotency_key": part_key,
            "channel": channel,
            "recipient": outbox.tipster_recipient(tipster_id),
            "payload": payload,
            "status": outbox.PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": due,
        }
        for part_key, payload in people.outbox_parts(channel, notice, key=key)
    ]


def _due(recipient: Recipient, now: datetime) -> datetime:
    return deliver_at(
        now=now,
        timezone=recipient.timezone,
        start_min=recipient.quiet_start_min,
        end_min=recipient.quiet_end_min,
    )


async def send_alerts(
    session: AsyncSession,
    *,
    case: Case,
    recipients: list[Recipient],
    radius_km: float,
    now: datetime,
) -> int:
    """Record and enqueue the case's alert to each recipient not alerted before; how many.
    A chunk at a time, so a surge of tens of thousands never holds all its messages at once."""
    photo = await _display_photo(session, case.id)
    sent = 0
    for start in range(0, len(recipients), INSERT_CHUNK):
        chunk = recipients[start : start + INSERT_CHUNK]
        sent += await _send_chunk(
            session, case=case, chunk=chunk, photo=photo, radius_km=radius_km, now=now
        )
    return sent


async def _send_chunk(
    session: AsyncSession,
    *,
    case: Case,
    chunk: list[Recipient],
    photo: str | None,
    radius_km: float,
    now: datetime,
) -> int:
    rows = [
        {
            "subscription_id": r.subscription_id,
            "radius_km": radius_km,
            "distance_km": round(r.distance_km, 3),
            "created_at": now,
        }
        for r in chunk
    ]
    added = await _record(session, case_id=case.id, kind="alert", rows=rows)
    channels = await people.channels_of(session, (r.tipster_id for r in chunk))
    told = [
        (
            r,
            channels.get(r.tipster_id, people.TELEGRAM),
            alert_notice(
                case,
                photo_sha=photo,
                language=r.language,
                distance_km=r.distance_km,
                timezone=r.timezone,
                now=now,
            ),
        )
        for r in chunk
        if r.subscription_id in added
    ]
    messages = [
        row
        for r, channel, notice in told
        for row in _outbox_rows(
            key=alert_key(case.id, r.subscription_id),
            tipster_id=r.tipster_id,
            channel=channel,
            notice=notice,
            now=now,
            due=_due(r, now),
        )
    ]
    await _enqueue_many(session, messages)
    for r, channel, notice in told:  # a reply "1" to the alert means its first button
        await people.remember_menu(session, tipster_id=r.tipster_id, channel=channel, notice=notice)
    return len(messages)


async def _cancel_pending(session: AsyncSession, keys: list[str]) -> set[str]:
    """Cancel these alert rows if still pending; the keys of all that will now never go."""
    cancelled: set[str] = set()
    for start in range(0, len(keys), INSERT_CHUNK):
        chunk = OutboxMessage.idempotency_key.in_(keys[start : start + INSERT_CHUNK])
        await session.execute(
            update(OutboxMessage)
            .where(chunk, OutboxMessage.status == outbox.PENDING)
            .values(status=CANCELLED, last_error="the case ended before the alert went out")
            .execution_options(synchronize_session=False)
        )
        unsent = select(OutboxMessage.idempotency_key).where(
            chunk, OutboxMessage.status == CANCELLED
        )
        cancelled.update((await session.scalars(unsent)).all())
    return cancelled


async def end_case_alerts(session: AsyncSession, *, case: Case, now: datetime) -> int:
    """Cancel the case's alerts still waiting to go, and tell everyone alerted the news."""
    stmt = (
        select(
            Subscription.id,
            Subscription.tipster_id,
            Subscription.language,
            Subscription.timezone,
            Subscription.quiet_start_min,
            Subscription.quiet_end_min,
        )
        .join(CaseAlert, CaseAlert.subscription_id == Subscription.id)
        .where(CaseAlert.case_id == case.id, CaseAlert.kind == "alert")
    )
    alerted = (await session.execute(stmt)).all()
    keys = [alert_key(case.id, row.id) for row in alerted]
    # an alert a WhatsApp template stood in for may still wait for the volunteer's reply
    cancelled = await _cancel_pending(session, keys + [key + REPLY for key in keys])
    told = [row for row in alerted if alert_key(case.id, row.id) not in cancelled]
    added = await _record(
        session,
        case_id=case.id,
        kind="ended",
        rows=[{"subscription_id": row.id, "created_at": now} for row in told],
    )
    channels = await people.channels_of(session, (row.tipster_id for row in told))
    messages = [
        message
        for row in told
        if row.id in added
        for message in _outbox_rows(
            key=alert_key(case.id, row.id, "ended"),
            tipster_id=row.tipster_id,
            channel=channels.get(row.tipster_id, people.TELEGRAM),
            notice=ended_notice(case, language=row.language),
            now=now,
            due=deliver_at(
                now=now,
                timezone=row.timezone,
                start_min=row.quiet_start_min,
                end_min=row.quiet_end_min,
            ),
        )
    ]
    await _enqueue_many(session, messages)
    return len(messages)


async def recenter_case_alerts(
    session: AsyncSession,
    *,
    case: Case,
    lat: float,
    lon: float,
    at: datetime,
    now: datetime,
    policy: AlertPolicy = DEFAULT_POLICY,
) -> None:
    """Move the centre and the clock to a credible sighting and alert whoever is newly near."""
    case.alert_lat, case.alert_lon = validate_point(lat, lon)
    case.alert_from_at = min(at, now)
    case.alert_radius_km = None
    await extend_case_alerts(session, case=case, now=now, policy=policy)


async def list_growing_cases(session: AsyncSession, *, max_radius_km: float) -> list[int]:
    """Ids of active missing-child cases whose alert radius may still grow."""
    stmt = (
        select(Case.id)
        .where(
            Case.kind == "missing",
            Case.status == "active",
            Case.alert_lat.is_not(None),
            (Case.alert_radius_km.is_(None)) | (Case.alert_radius_km < max_radius_km),
        )
        .order_by(Case.id)
    )
    return list((await session.scalars(stmt)).all())
