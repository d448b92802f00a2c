"""/newcase's buttons: the choices of each step, and submit."""

from __future__ import annotations

from datetime import UTC, datetime

from core.cases.registry import CaseProblem, submit_case
from core.errors import InvalidInput
from handlers.common import when, where
from handlers.context import Sending
from handlers.newcase.flow import CaseTurn
from handlers.newcase.state import CaseTalk


def _now() -> datetime:
    return datetime.now(UTC)


async def _pick_when(turn: CaseTurn, value: str) -> None:
    await when.picked(turn, turn.case.seen, value)


async def _pick_where(turn: CaseTurn, value: str) -> None:
    await where.picked(turn, turn.case, turn.case.seen, value)


async def _pick_value(turn: CaseTurn, step: str, value: str) -> None:
    if step == "kind" and value in ("missing", "found"):
        turn.case.kind = "found" if value == "found" else "missing"
    elif step == "sex" and value in ("female", "male"):
        turn.case.sex = "female" if value == "female" else "male"
    else:
        await turn.stay()
        return
    await turn.onward(step)


async def on_pick(turn: CaseTurn, step: str, value: str) -> None:
    """A choice on the current step (a button of another step is stale)."""
    if not turn.fresh(step):
        await turn.stale()
    elif step == "when":
        await _pick_when(turn, value)
    elif step == "where":
        await _pick_where(turn, value)
    else:
        await _pick_value(turn, step, value)


async def on_submit(
    turn: CaseTurn,
    draft_id: str,
    sending: Sending,
) -> None:
    """Submit the case once: a second tap, or a retried update, finds the same case."""
    talk, texts = turn.stored, turn.texts
    going = talk.draft_id if talk is not None else None
    if not await turn.sendable(draft_id, going, "newcase.submitted") or talk is None:
        return
    try:
        case = await submit_case(
            sending.session,
            draft=talk.to_draft(now=_now(), vault=sending.services.vault),
            vault=sending.services.vault,
            channel=sending.origin.channel,
            source_key=sending.origin.source_key,
            tipster_id=sending.tipster.id,
        )
    except InvalidInput as problem:
        why = problem.render(texts.language) if isinstance(problem, CaseProblem) else str(problem)
        await turn.ask("confirm", note=texts("newcase.invalid", problem=why))
        return
    done = texts("newcase.submitted", ref=case.ref)
    if not talk.police_ref:
        done = f"{done}\n\n{texts('newcase.police_warning')}"
    await turn.finish(done, keep=CaseTalk(last_draft=talk.draft_id, last_ref=case.ref))
