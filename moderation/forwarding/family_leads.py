"""Vetted leads to a case's family: the message, who gets it, and the leads a member missed.

A family member linked after a lead was passed on (or muted while it was) gets the case's earlier
leads when they link or unmute; the outbox's idempotency key (forward:<id>:family:<subscription>)
keeps anyone from getting one lead twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.people import Notice, Template, tell
from core.i18n import Texts
from core.whatsapp.payloads import FAMILY_LEAD
from storage.models import Case, Forward, Subscription, Tip, Tipster

FAMILY = "family"
# handlers.tipster.telegram.family.FamilyAnswer packs to the same "fam:<forward>:<answer>"
CALLBACK_PREFIX = "fam"
SCAM = "scam"  # the answer a "Report a scam" press carries


async def list_family(session: AsyncSession, *, case_id: int) -> Sequence[Subscription]:
    """A case's family members (pseudonymous subscriptions), oldest first."""
    stmt = select(Subscription).where(Subscription.kind == FAMILY, Subscription.case_id == case_id)
    return (await session.scalars(stmt.order_by(Subscription.id))).all()


def _when(tip: Tip, texts: Texts) -> str:
    if tip.seen_at is None:
        return texts("family.time_unknown")
    name = ((tip.details or {}).get("place") or {}).get("timezone")
    try:
        zone = ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = tip.seen_at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} ({name or 'UTC'})"


def feedback_buttons(texts: Texts, forward_id: int) -> list[list[tuple[str, str]]]:
    """That's my child / Not my child / Not sure: one tap, sent back as fam:<forward>:<answer>;
    and Report a scam (fam:<forward>:scam, moderation/cases/scam_reports.py) on every lead."""
    return [
        [(texts("family.button_mine"), f"{CALLBACK_PREFIX}:{forward_id}:mine")],
        [
            (texts("family.button_not_mine"), f"{CALLBACK_PREFIX}:{forward_id}:not_mine"),
            (texts("family.button_unsure"), f"{CALLBACK_PREFIX}:{forward_id}:unsure"),
        ],
        [(texts("family.button_scam"), f"{CALLBACK_PREFIX}:{forward_id}:{SCAM}")],
    ]


def family_lead_notice(*, forward: Forward, tip: Tip, case: Case, language: str) -> Notice:
    """The vetted lead: summary, coarse place, time, maybe our clean photo; protected content.
    Outside WhatsApp's window its template carries only the case code and the summary."""
    texts = Texts(language)
    text = texts(
        "family.lead",
        name=case.full_name,
        summary=forward.summary,
        place=forward.coarse_place or texts("family.place_unknown"),
        time=_when(tip, texts),
    )
    return Notice(
        text,
        language,
        buttons=feedback_buttons(texts, forward.id),
        photo=forward.include_photo_sha,
        protect=True,
        template=Template.of(FAMILY_LEAD, case.ref, forward.summary),
    )


async def _enqueue_lead(
    session: AsyncSession, *, forward: Forward, tip: Tip, case: Case, subscription: Subscription
) -> bool:
    person = await session.get(Tipster, subscription.tipster_id)
    language = person.language if person is not None else subscription.language
    notice = family_lead_notice(forward=forward, tip=tip, case=case, language=language)
    return await tell(
        session,
        tipster_id=subscription.tipster_id,
        notice=notice,
        key=f"forward:{forward.id}:family:{subscription.id}",
    )


async def send_family_lead(
    session: AsyncSession, *, forward: Forward, tip: Tip, case: Case
) -> tuple[int, int]:
    """Enqueue the lead to every family member of the case; (queued, muted). Never commits."""
    queued = muted = 0
    for subscription in await list_family(session, case_id=case.id):
        if subscription.paused:
            muted += 1
            continue
        await _enqueue_lead(session, forward=forward, tip=tip, case=case, subscription=subscription)
        queued += 1
    return queued, muted


async def send_earlier_leads(session: AsyncSession, *, subscription: Subscription) -> int:
    """Enqueue the case's leads this member has not been sent yet, oldest first; how many.
    Never commits."""
    case = await session.get(Case, subscription.case_id) if subscription.case_id else None
    if case is None or subscription.paused:
        return 0
    stmt = (
        select(Forward, Tip)
        .join(Tip, Tip.id == Forward.tip_id)
        .where(Forward.case_id == case.id, Forward.audience == FAMILY)
        .order_by(Forward.created_at, Forward.id)
    )
    sent = 0
    for forward, tip in (await session.execute(stmt)).all():
        if await _enqueue_lead(
            session, forward=forward, tip=tip, case=case, subscription=subscription
        ):
            sent += 1
    return sent
