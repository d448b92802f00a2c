"""The senior gate: a tip flagged possible extortion reaches a family only when a senior
moderator has read the warning and approved it (docs/scoring.md, "Scam shield").

A plain moderator is refused with the reason (decide without a family summary and ask a
senior); a senior must tick the approval, which the forward's audit event records.
"""

from __future__ import annotations

from typing import Final

from core.errors import InvalidInput
from core.tips.extortion import extortion_signs
from moderation.policy import can
from storage.models import StaffUser, Tip

FORWARD_FLAGGED: Final = "tip.forward_flagged"


class NeedsSenior(InvalidInput):
    """A flagged tip (possible extortion) goes to a family only with a senior's approval."""


def possible_extortion(tip: Tip) -> bool:
    """Whether the tip is flagged possible extortion: by its score, or by its text now (a lead
    forwarded before the tip's evaluation ran is judged all the same)."""
    flags = (tip.score_parts or {}).get("flags", ())
    if any(flag.get("code") == "possible_extortion" for flag in flags):
        return True
    return bool(extortion_signs(tip.text))


def senior_gate(tip: Tip, staff: StaffUser, *, approved: bool) -> bool:
    """Refuses a flagged tip's family lead without a senior's approval (NeedsSenior); True when
    the tip was flagged and the senior approved, False when it was not flagged."""
    if not possible_extortion(tip):
        return False
    if not can(staff.role, FORWARD_FLAGGED):
        raise NeedsSenior(
            f"tip {tip.ref} is flagged possible extortion (it asks for money or threatens): "
            "only a senior moderator may send it to the family. Decide without a family "
            "summary, and ask a senior moderator to review it"
        )
    if not approved:
        raise NeedsSenior(
            f"tip {tip.ref} is flagged possible extortion: tick 'I have read the warning and "
            "approve sending this to the family' to send it"
        )
    return True
