"""Prometheus metrics (all named tipline_*): counters kept by each process, gauges read at scrape.

Counters and histograms (relay sends, 429s, photo and face latency) count what this process did;
Prometheus sums them over processes. The gauges (backlogs, ages, dead rows, queue depth, alert
fan-out) describe the shared database, so any process reports the same values: they are read
with a handful of indexed queries when /metrics is scraped, never on a timer. No label ever
carries an identity, a recipient or any text of a tip.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CaseAlert, InboxUpdate, OutboxMessage, Tip
from storage.types import utcnow

REGISTRY = CollectorRegistry(auto_describe=True)
OPEN_TIP_STATUSES = ("received", "under_review", "needs_info")
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

RELAY_SENDS = Counter(
    "tipline_relay_sends",
    "Outbox messages the relay tried to send, by channel and outcome.",
    ["channel", "outcome"],
    registry=REGISTRY,
)
RELAY_FLOODS = Counter(
    "tipline_relay_429",
    "Sends answered 429 Too Many Requests (flood control), by channel.",
    ["channel"],
    registry=REGISTRY,
)
CHAT_DEFERRALS = Counter(
    "tipline_chat_deferred",
    "Incoming chat messages held back by the overall rate (kept and handled later), by channel.",
    ["channel"],
    registry=REGISTRY,
)
PHOTO_SECONDS = Histogram(
    "tipline_photo_processing_seconds",
    "Time to fetch, sanitise and store one quarantined file (tip or case photo).",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
FACE_SECONDS = Histogram(
    "tipline_face_processing_seconds",
    "Time to look for faces in one photo and record its matches.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
INBOX_PENDING = Gauge(
    "tipline_inbox_pending", "Telegram updates admitted, not yet processed.", registry=REGISTRY
)
INBOX_OLDEST = Gauge(
    "tipline_inbox_oldest_pending_seconds",
    "Age of the oldest pending update (0 when none).",
    registry=REGISTRY,
)
INBOX_DEAD = Gauge(
    "tipline_inbox_dead", "Updates parked after repeated failures.", registry=REGISTRY
)
OUTBOX_PENDING = Gauge(
    "tipline_outbox_pending",
    "Outbox messages waiting or being sent, by channel.",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "tipline_outbox_lag_seconds",
    "How long the most overdue outbox message has been due, by channel (0 when none).",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_DEAD = Gauge(
    "tipline_outbox_dead",
    "Outbox messages parked as dead, by channel.",
    ["channel"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("tipline_queue_depth", "Open tips in the review queue.", registry=REGISTRY)
QUEUE_OLDEST = Gauge(
    "tipline_queue_oldest_unclaimed_seconds",
    "Age of the oldest open tip no moderator holds a claim on (0 when none).",
    registry=REGISTRY,
)
ALERTS_SENT = Gauge(
    "tipline_alerts_enqueued",
    "Area alerts written for volunteers so far, by kind (alert, ended).",
    ["kind"],
    registry=REGISTRY,
)
ALERTS_PENDING = Gauge(
    "tipline_alerts_pending",
    "Area alert messages in the outbox not yet sent (fan-out still to go).",
    registry=REGISTRY,
)


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


async def refresh_gauges(session: AsyncSession) -> None:
    """Read the database's backlogs into the gauges (called by GET /metrics)."""
    now = utcnow()
    await _inbox(session, now)
    await _outbox(session, now)
    await _queue(session, now)
    await _alerts(session)


async def _inbox(session: AsyncSession, now: datetime) -> None:
    pending = InboxUpdate.status == "pending"
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(InboxUpdate.received_at)).where(pending)
        )
    ).one()
    INBOX_PENDING.set(count)
    INBOX_OLDEST.set(_age(now, oldest))
    dead = await session.scalar(select(func.count()).where(InboxUpdate.status == "dead"))
    INBOX_DEAD.set(dead or 0)


async def _outbox(session: AsyncSession, now: datetime) -> None:
    om = OutboxMessage
    unsent = om.status.in_(("pending", "sending"))
    stmt = (
        select(om.channel, func.count(), func.min(om.next_attempt_at))
        .where(unsent)
        .group_by(om.channel)
    )
    OUTBOX_PENDING.clear()
    OUTBOX_LAG.clear()
    for channel, count, due in (await session.execute(stmt)).all():
        OUTBOX_PENDING.labels(channel=channel).set(count)
        OUTBOX_LAG.labels(channel=channel).set(_age(now, due))
    OUTBOX_DEAD.clear()
    dead = select(om.channel, func.count()).where(om.status == "dead").group_by(om.channel)
    for channel, count in (await session.execute(dead)).all():
        OUTBOX_DEAD.labels(channel=channel).set(count)


async def _queue(session: AsyncSession, now: datetime) -> None:
    open_tip = Tip.status.in_(OPEN_TIP_STATUSES)
    QUEUE_DEPTH.set(await session.scalar(select(func.count()).where(open_tip)) or 0)
    unclaimed = (Tip.claimed_by.is_(None)) | (Tip.claim_expires_at < now)
    oldest = await session.scalar(select(func.min(Tip.created_at)).where(open_tip, unclaimed))
    QUEUE_OLDEST.set(_age(now, oldest))


async def _alerts(session: AsyncSession) -> None:
    ALERTS_SENT.clear()
    stmt = select(CaseAlert.kind, func.count()).group_by(CaseAlert.kind)
    for kind, count in (await session.execute(stmt)).all():
        ALERTS_SENT.labels(kind=kind).set(count)
    pending = select(func.count()).where(
        OutboxMessage.status.in_(("pending", "sending")),
        OutboxMessage.idempotency_key.like("alert:%"),
    )
    ALERTS_PENDING.set(await session.scalar(pending) or 0)
