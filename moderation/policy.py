"""The ONE policy table: which role may do what. Routes and bot actions name an action from here;
tests are generated from this table, and fail when a route names none."""

from __future__ import annotations

from typing import Protocol

from core.identity.roles import Role

MOD = Role.MODERATOR
SENIOR = Role.SENIOR_MODERATOR
POLICE = Role.POLICE_LIAISON
ADMIN = Role.ADMIN
AUDITOR = Role.AUDITOR

REVIEWERS = frozenset({MOD, SENIOR})

POLICY: dict[str, frozenset[Role]] = {
    # The queue and tips
    "queue.view": REVIEWERS | {ADMIN},
    "tip.view": REVIEWERS | {POLICE, ADMIN},
    "tip.claim": REVIEWERS,
    "tip.decide": REVIEWERS,
    "tip.note": REVIEWERS | {POLICE},
    "tip.bulk_decide": REVIEWERS,
    "tip.link": REVIEWERS,  # link a tip (or its cluster) to a case, or unlink it
    "tip.face_verdict": REVIEWERS,  # "same child" / "not the same" on a face match
    # Fields of a tip beyond the text and the clean photos
    "field.precise_location": REVIEWERS | {POLICE},
    "field.exif_gps": frozenset({SENIOR, POLICE}),
    "field.original_photo": frozenset({SENIOR, POLICE}),
    "field.tipster_record": REVIEWERS,
    # Tipster identity (the vault)
    "identity.request_reveal": frozenset({SENIOR}),
    "identity.approve_reveal": frozenset({SENIOR}),
    "identity.request_erasure": frozenset({SENIOR}),
    "identity.approve_erasure": frozenset({SENIOR}),
    # Cases
    "case.view": REVIEWERS | {POLICE, ADMIN},
    "case.manage": frozenset({SENIOR, ADMIN}),
    "case.create": REVIEWERS | {ADMIN},
    "case.edit": frozenset({SENIOR, ADMIN}),
    "case.verify": frozenset({SENIOR, ADMIN}),
    "case.transition": frozenset({SENIOR, ADMIN}),
    "case.contact_view": frozenset({SENIOR, POLICE}),
    "case.recenter": REVIEWERS | {ADMIN},
    "case.matches": REVIEWERS | {ADMIN},
    # Confirming a match (DNA, police identification, family recognition) and the reunion
    "case.confirm_match": frozenset({SENIOR, POLICE}),
    # Found-person databases (a shelter, a police list, a DNA-database partner)
    "people.import": frozenset({SENIOR, ADMIN}),
    # A tip flagged possible extortion reaches a family only with a senior's approval
    "tip.forward_flagged": frozenset({SENIOR}),
    # Families' "report a scam" on the leads they got
    "scam_reports.view": REVIEWERS | {ADMIN},
    # Police and forwarding
    "packet.download": frozenset({POLICE}),
    # A recipient someone else added (two-person rule: never the one who added it).
    "police.recipient_approve": frozenset({SENIOR, ADMIN}),
    # Oversight and administration
    "audit.view": frozenset({AUDITOR, ADMIN}),
    "audit.export": frozenset({AUDITOR}),
    "staff.manage": frozenset({ADMIN}),
    "system.dead_letters": frozenset({ADMIN}),
    # Every signed-in staff member
    "account.self": frozenset({MOD, SENIOR, POLICE, ADMIN, AUDITOR}),
}


def can(role: str, action: str) -> bool:
    """Whether a role may perform an action; an unknown action is refused to everyone."""
    allowed = POLICY.get(action)
    if allowed is None:
        return False
    try:
        return Role(role) in allowed
    except ValueError:
        return False


class Acting(Protocol):
    """A signed-in staff account, as far as the policy cares."""

    role: str
    active: bool


def require(staff: Acting, action: str, refusal: str) -> None:
    """Go on only if an active account's role may perform the action; else PermissionError."""
    if not staff.active or not can(staff.role, action):
        raise PermissionError(refusal)
