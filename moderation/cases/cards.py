"""Tip cards for the moderators' Telegram group: which tips get one, what it says, its buttons.

A card goes out through the outbox for each open tip scoring at least the threshold, or urgent,
once (the audit trail records that it was shown). Its buttons carry opaque random tokens
(callback_tokens: token -> action + tip, with an expiry), never the decision itself. When more
than `per_minute` messages would go to the group (Telegram allows about 20 a minute), the rest
wait for one digest every few minutes; urgent tips still get their own card while room remains.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.delivery.outbox import chat_recipient, enqueue, telegram_text
from core.i18n import Texts
from moderation.review.queue import OPEN_STATUSES
from storage.models import AuditEvent, CallbackToken, Tip, TipCluster
from storage.types import utcnow

BUTTONS = (("promising", "needs_info"), ("not_relevant", "spam"), ("urgent",))
BUTTON_ACTIONS = frozenset(action for row in BUTTONS for action in row)
CARD, DIGEST = "group.card", "group.digest"
PREVIEW = 400
_HIDE = (
    re.compile(r"https?://\S+|\bt\.me/\S+", re.IGNORECASE),  # map links carry exact points
    re.compile(r"-?\d{1,3}\.\d{3,}\s*[,;]?\s*-?\d{1,3}\.\d{3,}"),  # coordinates
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail addresses
    re.compile(r"(?<![\w@])@[A-Za-z]\w{4,}"),  # Telegram usernames
)
_NUMBER = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_PHONE_DIGITS = 9  # fewer digits is a date, a time or a count, not a phone number


@dataclass(frozen=True, slots=True)
class CardSettings:
    """Where cards go and when (built by the composition root from settings)."""

    chat_id: int
    base_url: str
    threshold: float = 60.0
    language: str = "en"
    per_minute: int = 20
    digest_every: timedelta = timedelta(minutes=5)
    digest_top: int = 5
    button_ttl: timedelta = timedelta(days=3)
    window: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Announced:
    """What one round sent: cards, and tips covered by a digest."""

    cards: int = 0
    digested: int = 0


def redact(text: str, hidden: str) -> str:
    """The tip text without links, coordinates, e-mails, usernames or phone numbers in it."""
    for pattern in _HIDE:
        text = pattern.sub(hidden, text)

    def _phone(match: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in match.group())
        return hidden if digits >= _PHONE_DIGITS else match.group()

    return _NUMBER.sub(_phone, text)


def coarse_place(tip: Tip) -> str | None:
    """The city-level label of the tip's place; None when only typed words or a point exist."""
    place = tip.details.get("place") if isinstance(tip.details, dict) else None
    if isinstance(place, dict):
        label = place.get("label")
        return str(label) if label else None
    # Without the draft's record, place_text is the geocoded label (coarse by construction).
    return tip.place_text


def _seen(tip: Tip) -> str | None:
    if tip.seen_at is None:
        return None
    pattern = "%Y-%m-%d %H:%M UTC" if tip.seen_at_precision in ("now", "today") else "%Y-%m-%d"
    return tip.seen_at.strftime(pattern)


def render_card(tip: Tip, *, texts: Texts, base_url: str, cluster_size: int = 1) -> str:
    """The card's text: score, ref, coarse place, a preview, the dashboard link; no identity."""
    title = "mod.card_urgent" if tip.urgent else "mod.card_title"
    lines = [texts(title, ref=tip.ref, score=round(tip.score))]
    place = coarse_place(tip)
    lines.append(texts("mod.card_place", place=place) if place else texts("mod.card_place_none"))
    seen = _seen(tip)
    if seen:
        lines.append(texts("mod.card_seen", when=seen))
    if cluster_size > 1:
        lines.append(texts("mod.card_cluster", count=cluster_size))
    preview = redact(" ".join(tip.text.split()), texts("mod.hidden"))
    if len(preview) > PREVIEW:
        preview = preview[:PREVIEW] + "…"
    lines += ["", preview or texts("mod.card_no_text"), ""]
    lines.append(texts("mod.card_link", url=f"{base_url}/tips/{tip.ref}"))
    return "\n".join(lines)


def render_digest(tips: Sequence[Tip], *, texts: Texts, base_url: str, top: int) -> str:
    """One message for many tips: how many, the best few, and the dashboard for the rest."""
    lines = [texts("mod.digest_title", count=len(tips), top=min(top, len(tips)))]
    for tip in tips[:top]:
        place = coarse_place(tip) or "?"
        url = f"{base_url}/tips/{tip.ref}"
        lines.append(texts("mod.digest_line", ref=tip.ref, score=round(tip.score), place=place))
        lines.append(url)
    lines += ["", texts("mod.digest_more", url=f"{base_url}/tips")]
    return "\n".join(lines)


async def _fresh(session: AsyncSession, settings: CardSettings, now: datetime) -> list[Tip]:
    """Open high-scoring or urgent tips of the window not yet shown: one per cluster, best first."""
    since = now - settings.window
    stmt = (
        select(Tip)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.created_at >= since,
            or_(Tip.score >= settings.threshold, Tip.urgent.is_(True)),
        )
        .order_by(Tip.urgent.desc(), Tip.score.desc(), Tip.created_at, Tip.id)
        .limit(1000)
    )
    tips = (await session.scalars(stmt)).all()
    if not tips:
        return []
    shown = (
        await session.execute(
            select(AuditEvent.object_ref, Tip.cluster_id)
            .join(Tip, Tip.ref == AuditEvent.object_ref)
            .where(
                AuditEvent.at >= since,
                AuditEvent.action.in_((CARD, DIGEST)),
                AuditEvent.object_type == "tip",
            )
        )
    ).all()
    refs = {ref for ref, _ in shown}
    clusters = {cluster for _, cluster in shown if cluster is not None}
    fresh = []
    for tip in tips:
        if tip.ref in refs or tip.cluster_id in clusters:
            continue
        if tip.cluster_id is not None:
            clusters.add(tip.cluster_id)
        fresh.append(tip)
    return fresh


async def _recent(session: AsyncSession, now: datetime) -> tuple[int, datetime | None]:
    """Messages sent to the group in the last minute, and when the last digest went."""
    minute = now - timedelta(minutes=1)
    cards = await session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == CARD, AuditEvent.at >= minute)
    )
    last_digest = await session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.action == DIGEST)
    )
    digests = 1 if last_digest is not None and last_digest >= minute else 0
    return int(cards or 0) + digests, last_digest


async def _sizes(session: AsyncSession, tips: Sequence[Tip]) -> dict[int, int]:
    ids = {t.cluster_id for t in tips if t.cluster_id is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(TipCluster.id, TipCluster.size).where(TipCluster.id.in_(ids))
    )
    return {cluster_id: size for cluster_id, size in rows.all()}


async def _shown(session: AsyncSession, tip: Tip, action: str, detail: dict[str, str]) -> None:
    await record(
        session,
        actor_role="system",
        action=action,
        object_type="tip",
        object_ref=tip.ref,
        detail=detail,
    )


async def _card(
    session: AsyncSession, tip: Tip, settings: CardSettings, texts: Texts, size: int
) -> None:
    tokens = {action: secrets.token_urlsafe(16) for action in BUTTON_ACTIONS}
    buttons = [[(texts(f"mod.button.{a}"), tokens[a]) for a in row] for row in BUTTONS]
    text = render_card(tip, texts=texts, base_url=settings.base_url, cluster_size=size)
    payload = telegram_text(text, buttons=buttons, protect=True)
    recipient = chat_recipient(settings.chat_id)
    key = f"modcard:{settings.chat_id}:{tip.id}"
    if await enqueue(session, channel="telegram", recipient=recipient, payload=payload, key=key):
        expires = utcnow() + settings.button_ttl
        session.add_all(
            CallbackToken(token=token, action=action, tip_id=tip.id, expires_at=expires)
            for action, token in tokens.items()
        )
    await _shown(session, tip, CARD, {"chat": str(settings.chat_id)})


async def _digest(
    session: AsyncSession, tips: Sequence[Tip], settings: CardSettings, texts: Texts
) -> None:
    text = render_digest(tips, texts=texts, base_url=settings.base_url, top=settings.digest_top)
    covered = ",".join(str(t.id) for t in tips)
    key = f"moddigest:{settings.chat_id}:{hashlib.sha256(covered.encode()).hexdigest()[:32]}"
    payload = telegram_text(text, protect=True)
    recipient = chat_recipient(settings.chat_id)
    await enqueue(session, channel="telegram", recipient=recipient, payload=payload, key=key)
    for tip in tips:
        await _shown(session, tip, DIGEST, {"chat": str(settings.chat_id), "digest": key})


async def announce(session: AsyncSession, *, settings: CardSettings) -> Announced:
    """One round: cards for new high-scoring tips, or a digest when too many. Commits."""
    now = utcnow()
    fresh = await _fresh(session, settings, now)
    if not fresh:
        await session.rollback()
        return Announced()
    sent, last_digest = await _recent(session, now)
    room = max(0, settings.per_minute - sent)
    if len(fresh) <= room:
        cards, waiting = fresh, []
    else:  # digest mode: urgent tips still get a card while there is room
        cards = [t for t in fresh if t.urgent][:room]
        waiting = [t for t in fresh if t not in cards]
    texts = Texts(settings.language)
    sizes = await _sizes(session, fresh)
    for tip in cards:
        await _card(session, tip, settings, texts, sizes.get(tip.cluster_id or 0, 1))
    due = last_digest is None or now - last_digest >= settings.digest_every
    digested = waiting if waiting and due else []
    if digested:
        await _digest(session, digested, settings, texts)
    await session.commit()
    return Announced(cards=len(cards), digested=len(digested))


async def prune_tokens(session: AsyncSession) -> int:
    """Forget expired button tokens and link codes; how many. Commits."""
    result = await session.execute(
        delete(CallbackToken)
        .where(CallbackToken.expires_at < utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
