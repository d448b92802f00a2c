"""A case's lifecycle: staff register, edit, verify, activate and end cases; every step audited.

submitted -> verified (police reference checked; the first public status) -> active (area alerts)
-> found / closed / withdrawn (alerts end). docs/cases.md has the whole picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import dispatch as alerts
from core.audit import staff_action
from core.cases.registry import CaseDraft, edit_case, open_contact, submit_case
from core.delivery.people import notice_of, tell
from core.errors import InvalidInput, NotFound
from core.i18n import Texts
from core.identity.vault import Vault
from moderation.policy import require
from storage.models import Case, StaffUser, Tip, Tipster
from storage.refs import normalise_ref
from storage.repositories import CaseRepository, TipRepository
from storage.types import utcnow

NEXT: dict[str, tuple[str, ...]] = {
    "submitted": ("verified", "withdrawn", "closed"),
    "verified": ("active", "found", "closed", "withdrawn"),
    "active": ("found", "closed", "withdrawn"),
    "found": ("closed",),
}
ENDINGS = ("found", "closed", "withdrawn")
MAX_REASON = 500
# What the submitter of a bot case hears: (from, to) -> text key.
NOTICES = {
    ("submitted", "verified"): "cases.notify_verified",
    ("submitted", "closed"): "cases.notify_refused",
}

DEFAULT_POLICY = alerts.DEFAULT_POLICY


def _allow(staff: StaffUser, action: str) -> None:
    require(staff, action, "your role may not do this to cases")


async def _case(session: AsyncSession, ref: str) -> Case:
    case = await CaseRepository(session).get_by_ref(normalise_ref(ref))
    if case is None:
        raise NotFound("no such case")
    return case


def next_statuses(case: Case) -> tuple[str, ...]:
    """The statuses a case may move to from where it is."""
    return NEXT.get(case.status, ())


def _check_transition(case: Case, to: str, reason: str) -> None:
    if to not in next_statuses(case):
        raise InvalidInput(f"a {case.status} case cannot become {to}")
    if to == "verified" and not (case.police_ref or "").strip():
        raise InvalidInput("add the police report reference before verifying the case")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"keep the reason under {MAX_REASON} characters")


async def _undo(session: AsyncSession, staff: StaffUser, case: Case) -> None:
    """Roll back, and reload what the caller still holds (the page renders them next)."""
    await session.rollback()
    await session.refresh(staff)
    await session.refresh(case)


async def _move(
    session: AsyncSession, case: Case, staff: StaffUser, to: str, now: datetime
) -> None:
    """Change the status only if nobody else did meanwhile (two tabs, two moderators)."""
    values: dict[str, Any] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to == "verified":
        values.update(verified_by=staff.id, verified_at=now)
    result = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == case.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await _undo(session, staff, case)
        raise InvalidInput("the case changed meanwhile; reload the page")
    await session.refresh(case)


def _notice(texts: Texts, key: str, case: Case, public_url: str) -> str:
    """The notice; a verified case's carries its public page and poster to share."""
    text = texts(key, ref=case.ref, name=case.full_name)
    if case.status == "verified" and public_url:
        page = f"{public_url.rstrip('/')}/people/{case.ref}"
        links = texts("cases.notify_verified_links", page=page, poster=f"{page}/poster.pdf")
        text = f"{text}\n\n{links}"
    return text


async def _tell_submitter(
    session: AsyncSession, case: Case, before: str, *, public_url: str
) -> None:
    key = NOTICES.get((before, case.status))
    if key is None or case.submitted_by_tipster_id is None:
        return
    tipster = await session.get(Tipster, case.submitted_by_tipster_id)
    if tipster is None:
        return
    text = _notice(Texts(tipster.language), key, case, public_url)
    notice = notice_of(text, tipster.language)
    await tell(
        session, tipster_id=tipster.id, notice=notice, key=f"case:{case.id}:{case.status}:submitter"
    )


async def transition_case(
    session: AsyncSession,
    *,
    staff: StaffUser,
    ref: str,
    to: str,
    reason: str = "",
    now: datetime | None = None,
    policy: alerts.AlertPolicy = DEFAULT_POLICY,
    public_url: str = "",
) -> Case:
    """Move a case to its next status, starting or ending its alerts; audited; commits.

    public_url: the site's public address, for the page and poster links in the family's
    "verified" notice (none without it)."""
    _allow(staff, "case.verify" if to == "verified" else "case.transition")
    now = now or utcnow()
    reason = reason.strip()
    case = await _case(session, ref)
    _check_transition(case, to, reason)
    before = case.status
    await _move(session, case, staff, to, now)
    if to == "active" and case.kind == "missing":
        await alerts.start_case_alerts(session, case=case, now=now, policy=policy)
    elif to in ENDINGS and before == "active":
        await alerts.end_case_alerts(session, case=case, now=now)
    await _tell_submitter(session, case, before, public_url=public_url)
    await staff_action(
        session,
        staff,
        f"case.{to}",
        "case",
        case.ref,
        reason=reason or None,
        detail={"from": before},
    )
    await session.commit()
    return case


async def register_case(
    session: AsyncSession, *, staff: StaffUser, draft: CaseDraft, vault: Vault, source_key: str
) -> Case:
    """A case registered by staff on the dashboard (status submitted); audited; commits."""
    _allow(staff, "case.create")
    case = await submit_case(
        session, draft=draft, vault=vault, channel="staff", source_key=source_key, staff_id=staff.id
    )
    await staff_action(session, staff, "case.create", "case", case.ref)
    await session.commit()
    return case


async def update_case(
    session: AsyncSession,
    *,
    staff: StaffUser,
    ref: str,
    changes: dict[str, Any],
    vault: Vault,
    now: datetime | None = None,
) -> list[str]:
    """Edit a case's fields (the audit lists the field names, never the values); commits."""
    _allow(staff, "case.edit")
    case = await _case(session, ref)
    if case.status in ("closed", "withdrawn"):
        raise InvalidInput(f"a {case.status} case cannot be edited")
    # A form sends every field; only the ones that differ are changes (and audited as such).
    changes = {
        name: value
        for name, value in changes.items()
        if name in ("contact", "photos") or getattr(case, name, None) != value
    }
    if not changes:
        return []
    # Staged before edit_case commits, so the edit and its audit land together.
    await staff_action(
        session, staff, "case.edit", "case", case.ref, detail={"fields": sorted(changes)}
    )
    try:
        return await edit_case(session, case=case, changes=changes, now=now, vault=vault)
    except InvalidInput:
        await _undo(session, staff, case)
        raise


async def view_contact(session: AsyncSession, *, staff: StaffUser, ref: str, vault: Vault) -> str:
    """The family's sealed contact, for a role allowed to see it; audited; commits."""
    _allow(staff, "case.contact_view")
    case = await _case(session, ref)
    contact = open_contact(case, vault=vault)
    await staff_action(session, staff, "case.contact_view", "case", case.ref)
    await session.commit()
    return contact


async def _sighting(session: AsyncSession, tip_ref: str) -> Tip:
    tip = await TipRepository(session).get_by_ref(normalise_ref(tip_ref))
    if tip is None:
        raise NotFound("no such tip")
    if tip.lat is None or tip.lon is None:
        raise InvalidInput(f"tip {tip.ref} has no place to centre the alerts on")
    return tip


async def recenter_case(
    session: AsyncSession,
    *,
    staff: StaffUser,
    ref: str,
    tip_ref: str,
    now: datetime | None = None,
    policy: alerts.AlertPolicy = DEFAULT_POLICY,
) -> Case:
    """Re-centre an active case's alerts on a credible sighting's place and time; commits."""
    _allow(staff, "case.recenter")
    now = now or utcnow()
    case = await _case(session, ref)
    if case.status != "active":
        raise InvalidInput("only an active case has alerts to re-centre")
    tip = await _sighting(session, tip_ref)
    assert tip.lat is not None and tip.lon is not None  # checked in _sighting
    at = tip.seen_at or tip.created_at
    await alerts.recenter_case_alerts(
        session,
        case=case,
        lat=tip.lat,
        lon=tip.lon,
        at=at,
        now=now,
        policy=policy,
    )
    await staff_action(session, staff, "case.recenter", "case", case.ref, detail={"tip": tip.ref})
    await session.commit()
    return case
