"""The report's buttons: the choices of each step, and send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from core.errors import InvalidInput, RateLimited
from core.tips.submission import submit_tip_within_limit
from handlers.common import when, where
from handlers.context import Sending
from handlers.report.flow import Turn


def _now() -> datetime:
    return datetime.now(UTC)


async def _pick_case(turn: Turn, value: str) -> None:
    if value == "near":
        turn.talk.near_search = True
        await turn.ask("case", note=turn.texts("report.case_share_location"))
        return
    if value == "unknown":
        turn.draft.case_unknown, turn.draft.case_ref = True, None
    else:
        turn.draft.case_ref, turn.draft.case_unknown = value, False
        turn.talk.cases = [c for c in turn.talk.cases if c.ref == value]
    turn.talk.mark("case")
    await turn.advance()


async def _pick_when(turn: Turn, value: str) -> None:
    await when.picked(turn, turn.draft, value)


async def _pick_where(turn: Turn, value: str) -> None:
    await where.picked(turn, turn.talk, turn.draft, value)


async def _pick_contact(turn: Turn, value: str) -> None:
    turn.draft.contact_allowed = value == "yes"
    turn.talk.mark("contact")
    await turn.advance()


PICKS: dict[str, Callable[[Turn, str], Awaitable[None]]] = {
    "case": _pick_case,
    "when": _pick_when,
    "where": _pick_where,
    "contact": _pick_contact,
}


async def on_pick(turn: Turn, step: str, value: str) -> None:
    """A choice on the current step (a button of another step is stale)."""
    pick = PICKS.get(step)
    if pick is None or not turn.fresh(step):
        await turn.stale()
        return
    await pick(turn, value)


async def on_confirm(
    turn: Turn,
    draft_id: str,
    sending: Sending,
) -> None:
    """Send the tip once: a second tap, or a retried update, gets the same reference."""
    talk, draft = turn.talk, turn.talk.draft
    going = draft.draft_id if draft is not None else None
    if not await turn.sendable(draft_id, going, "report.sent") or draft is None:
        return
    origin, tipster, limits = sending.origin, sending.tipster, sending.services.limits
    try:
        receipt = await submit_tip_within_limit(
            sending.session,
            draft=draft,
            channel=origin.channel,
            source_key=origin.source_key,
            tipster_id=tipster.id,
            language=tipster.language,
            max_tips=limits.tips_per_window,
            window_seconds=limits.tips_window_seconds,
        )
    except RateLimited:
        await turn.say(turn.texts("report.too_many_tips"))
        return
    except InvalidInput:
        await turn.ask("what", note=turn.texts("report.nothing_to_send"))
        return
    talk.forget_draft()
    talk.last_draft, talk.last_ref = draft.draft_id, receipt.ref
    turn.conversation.go(None)
    await turn.say(turn.texts("report.sent", ref=receipt.ref))
