"""Families report a scam: every lead a family gets carries a "Report a scam" button.

A press keeps one report per family member and lead, audited, and tells the moderators with the
lead quoted as the family got it: a message to the moderators' group through the outbox (when one
is configured) and the dashboard's Scam reports page. The family is thanked and reminded never to
pay anyone (handlers/tipster/family.py, `family_feedback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.delivery.outbox import chat_recipient, enqueue, telegram_text
from core.i18n import Texts
from core.identity.roles import Role
from moderation.cases.families import lead_of_member
from moderation.policy import require
from storage.models import Case, Forward, ScamReport, StaffUser, Tip, Tipster

VIEW_ACTION: Final = "scam_reports.view"
_STAFF_TEXTS = Texts("en")


@dataclass(frozen=True, slots=True)
class ScamReported:
    """A family member's report: whether it was already made (a second press)."""

    report_id: int
    already: bool


async def _tell_moderators(
    session: AsyncSession, *, report: ScamReport, forward: Forward, chat_id: int
) -> None:
    tip = await session.get(Tip, forward.tip_id)
    case = await session.get(Case, forward.case_id)
    text = _STAFF_TEXTS(
        "scam.report_to_moderators",
        case=f"{case.full_name} ({case.ref})" if case else "-",
        tip=tip.ref if tip else "-",
        summary=forward.summary[:600],
        place=forward.coarse_place or "-",
        report=report.id,
    )
    await enqueue(
        session,
        channel="telegram",
        recipient=chat_recipient(chat_id),
        payload=telegram_text(text),
        key=f"scam:{report.id}:moderators:{chat_id}",
    )


async def report_scam(
    session: AsyncSession, *, tipster: Tipster, forward_id: int, moderators_chat_id: int | None
) -> ScamReported:
    """Keep a family member's scam report on a lead and tell the moderators, once. Commits."""
    forward, subscription = await lead_of_member(session, tipster=tipster, forward_id=forward_id)
    assert forward.case_id is not None  # a family lead always has its case
    existing = await session.scalar(
        select(ScamReport).where(
            ScamReport.forward_id == forward.id, ScamReport.subscription_id == subscription.id
        )
    )
    if existing is not None:
        return ScamReported(report_id=existing.id, already=True)
    report = ScamReport(
        forward_id=forward.id,
        subscription_id=subscription.id,
        case_id=forward.case_id,
        tip_id=forward.tip_id,
    )
    session.add(report)
    await session.flush()
    if moderators_chat_id is not None:
        await _tell_moderators(session, report=report, forward=forward, chat_id=moderators_chat_id)
    case = await session.get(Case, forward.case_id)
    await record(
        session,
        actor_role=Role.FAMILY.value,
        action="family.scam_report",
        object_type="case",
        object_ref=case.ref if case else "-",
        detail={"subscription_id": subscription.id, "forward_id": forward.id, "report": report.id},
    )
    await session.commit()
    return ScamReported(report_id=report.id, already=False)


@dataclass(frozen=True, slots=True)
class ScamReportView:
    """A report as moderators see it: the lead quoted, its tip and case."""

    report: ScamReport
    forward: Forward
    tip_ref: str
    case_ref: str
    case_name: str


async def list_scam_reports(
    session: AsyncSession, *, staff: StaffUser, limit: int = 200
) -> list[ScamReportView]:
    """The latest scam reports, newest first."""
    require(staff, VIEW_ACTION, "your role may not see scam reports")
    stmt = (
        select(ScamReport, Forward, Tip.ref, Case.ref, Case.full_name)
        .join(Forward, Forward.id == ScamReport.forward_id)
        .join(Tip, Tip.id == ScamReport.tip_id)
        .join(Case, Case.id == ScamReport.case_id)
        .order_by(ScamReport.id.desc())
        .limit(limit)
    )
    return [
        ScamReportView(report=r, forward=f, tip_ref=t, case_ref=c, case_name=n)
        for r, f, t, c, n in (await session.execute(stmt)).all()
    ]
