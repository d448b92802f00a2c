"""From a match to a reunion: review, confirmation with evidence, and the reunion.

A found-match moves open (a candidate) -> reviewing -> confirmed -> reunited (or is dismissed).
Confirming records how (DNA test, police identification, family recognition), the date, the lab
or police reference and who recorded it, and in the same transaction: the missing person's case
becomes found (its alerts cancelled, volunteers told), the two records are linked, the family
and every tipster whose tip was linked to the case are told through the outbox, once each
(idempotency keys), and the poster stops being served. Every step is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import dispatch as alerts
from core.audit import staff_action
from core.delivery.people import notice_of, tell
from core.errors import InvalidInput, NotFound
from core.i18n import Texts
from moderation.cases.matches import MatchAlreadyDecided
from moderation.forwarding.family_leads import list_family
from moderation.policy import require
from storage.models import Case, CaseMatch, StaffUser, Tip, Tipster
from storage.types import utcnow

CONFIRM: Final = "case.confirm_match"
REVIEW: Final = "case.matches"
EVIDENCE: Final = ("dna", "police_id", "family_recognition")
NEEDS_REFERENCE: Final = frozenset({"dna", "police_id"})
UNDECIDED: Final = ("open", "reviewing")
MAX_REF: Final = 200
MAX_PLACE: Final = 200
MAX_NOTE: Final = 1000
# Cases that may become found (core lifecycle: verified and active; docs/cases.md).
MAY_BE_FOUND: Final = ("verified", "active")


def _allow(staff: StaffUser, action: str) -> None:
    require(staff, action, "your role may not do this to a match")


async def _match(session: AsyncSession, match_id: int) -> CaseMatch:
    match = await session.get(CaseMatch, match_id, populate_existing=True)
    if match is None:
        raise NotFound("no such match")
    return match


async def start_review(session: AsyncSession, *, staff: StaffUser, match_id: int) -> CaseMatch:
    """A moderator takes a candidate under review (once; a repeat changes nothing); commits."""
    _allow(staff, REVIEW)
    match = await _match(session, match_id)
    result = await session.execute(
        update(CaseMatch)
        .where(CaseMatch.id == match_id, CaseMatch.status == "open")
        .values(status="reviewing", reviewed_by=staff.id, reviewed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if match.status == "reviewing":
            return match
        raise MatchAlreadyDecided(f"this match was already {match.status}")
    await staff_action(session, staff, "case_match.reviewing", "case_match", str(match.id))
    await session.commit()
    await session.refresh(match)
    return match


def _check_evidence(evidence_type: str, reference: str, on: date | None, now: datetime) -> None:
    if evidence_type not in EVIDENCE:
        raise InvalidInput(
            "say how the match was confirmed: DNA test, police identification or family recognition"
        )
    if evidence_type in NEEDS_REFERENCE and not reference:
        raise InvalidInput("give the lab or police reference of the confirmation")
    if len(reference) > MAX_REF:
        raise InvalidInput(f"keep the reference under {MAX_REF} characters")
    if on is None or on > now.date():
        raise InvalidInput("give the date of the confirmation (not in the future)")


async def _sides(session: AsyncSession, match: CaseMatch) -> tuple[Case, Case]:
    """(missing, found) of a found-match."""
    if match.kind != "found":
        raise InvalidInput("only a match between a missing and a found person is confirmed here")
    first = await session.get(Case, match.case_id)
    second = await session.get(Case, match.other_case_id)
    assert first is not None and second is not None  # foreign keys cascade
    return (first, second) if first.kind == "missing" else (second, first)


async def confirm_match(
    session: AsyncSession,
    *,
    staff: StaffUser,
    match_id: int,
    evidence_type: str,
    evidence_ref: str = "",
    evidence_on: date | None = None,
    now: datetime | None = None,
) -> CaseMatch:
    """Confirm a found-match with its evidence and close the case as found; commits.

    Refused (nothing changes): no or unknown evidence type, a missing reference or date, a
    match already confirmed or dismissed, a case that is not verified or active."""
    _allow(staff, CONFIRM)
    now = now or utcnow()
    evidence_ref = evidence_ref.strip()
    _check_evidence(evidence_type, evidence_ref, evidence_on, now)
    match = await _match(session, match_id)
    if match.status not in UNDECIDED:
        raise MatchAlreadyDecided(f"this match was already {match.status}; nothing changed")
    missing, found = await _sides(session, match)
    if missing.status not in MAY_BE_FOUND:
        raise InvalidInput(f"a {missing.status} case cannot be marked found; verify it first")
    moved = await session.execute(
        update(CaseMatch)
        .where(CaseMatch.id == match.id, CaseMatch.status.in_(UNDECIDED))
        .values(
            status="confirmed",
            evidence_type=evidence_type,
            evidence_ref=evidence_ref or None,
            evidence_on=evidence_on,
            confirmed_by=staff.id,
            confirmed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise MatchAlreadyDecided("this match was decided meanwhile; nothing changed")
    await _close_as_found(session, staff=staff, missing=missing, found=found, now=now)
    await _tell_family(session, case=missing, evidence_type=evidence_type)
    await _tell_tipsters(session, case=missing)
    await staff_action(
        session,
        staff,
        "case_match.confirmed",
        "case_match",
        str(match.id),
        detail={
            "evidence_type": evidence_type,
            "evidence_ref": evidence_ref,
            "evidence_on": evidence_on.isoformat() if evidence_on else None,
            "cases": [missing.ref, found.ref],
        },
    )
    await session.commit()
    return await _match(session, match.id)


async def _close_as_found(
    session: AsyncSession, *, staff: StaffUser, missing: Case, found: Case, now: datetime
) -> None:
    """The missing person's case becomes found, alerts end, and the records are linked."""
    before = missing.status
    missing.status, missing.status_changed_at, missing.updated_at = "found", now, now
    missing.linked_case_id, found.linked_case_id = found.id, missing.id
    await session.flush()
    if before == "active":
        await alerts.end_case_alerts(session, case=missing, now=now)
    await staff_action(session, staff, "case.found", "case", missing.ref, detail={"from": before})
    await staff_action(
        session, staff, "case.linked", "case", found.ref, detail={"linked": missing.ref}
    )


async def _tell_family(session: AsyncSession, *, case: Case, evidence_type: str) -> int:
    told = 0
    for subscription in await list_family(session, case_id=case.id):
        person = await session.get(Tipster, subscription.tipster_id)
        language = person.language if person is not None else subscription.language
        texts = Texts(language)
        text = texts(
            "reunion.family_found",
            name=case.full_name,
            case=case.ref,
            how=texts(f"reunion.evidence.{evidence_type}"),
        )
        notice = notice_of(text, language, protect=True)
        told += await tell(
            session,
            tipster_id=subscription.tipster_id,
            notice=notice,
            key=f"case:{case.id}:found:family:{subscription.id}",
        )
    return told


async def _tell_tipsters(session: AsyncSession, *, case: Case) -> int:
    """Every tipster whose tip was linked to the case: found, thanks, no details."""
    stmt = (
        select(Tipster)
        .join(Tip, Tip.tipster_id == Tipster.id)
        .where(Tip.case_id == case.id, Tipster.blocked.is_(False))
        .distinct()
    )
    told = 0
    for tipster in (await session.scalars(stmt)).all():
        text = Texts(tipster.language)("reunion.tipster_found")
        notice = notice_of(text, tipster.language)
        told += await tell(
            session,
            tipster_id=tipster.id,
            notice=notice,
            key=f"case:{case.id}:found:tipster:{tipster.id}",
        )
    return told


async def record_reunion(
    session: AsyncSession,
    *,
    staff: StaffUser,
    match_id: int,
    on: date | None,
    place: str,
    note: str = "",
    public: bool = False,
    now: datetime | None = None,
) -> CaseMatch:
    """The reunion of a confirmed match: a date, a coarse place, a note public only with the
    family's consent; once; audited; commits."""
    _allow(staff, CONFIRM)
    now = now or utcnow()
    place, note = place.strip(), note.strip()
    match = await _match(session, match_id)
    if match.status == "reunited":
        raise MatchAlreadyDecided("the reunion was already recorded; nothing changed")
    if match.status != "confirmed":
        raise InvalidInput("a reunion is recorded only after the match is confirmed")
    if on is None or on > now.date():
        raise InvalidInput("give the date of the reunion (not in the future)")
    if not place or len(place) > MAX_PLACE:
        raise InvalidInput(f"give a coarse place (a town or region), up to {MAX_PLACE} characters")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"keep the note under {MAX_NOTE} characters")
    match.status, match.reunion_on, match.reunion_place = "reunited", on, place
    match.reunion_note, match.reunion_public, match.reunion_by = note or None, public, staff.id
    await staff_action(
        session,
        staff,
        "case_match.reunited",
        "case_match",
        str(match.id),
        detail={"on": on.isoformat(), "place": place, "public_note": public},
    )
    await session.commit()
    return match
