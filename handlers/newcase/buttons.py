"""/newcase's buttons: the choices of each step, and submit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.case_registry import CaseProblem, submit_case
from core.errors import InvalidInput
from core.vault import Vault
from handlers.common import where
from handlers.engine.channel import Origin
from handlers.newcase.flow import CaseTurn
from handlers.newcase.state import CaseTalk
from storage.models import Tipster


def _now() -> datetime:
    return datetime.now(UTC)


async def _pick_when(turn: CaseTurn, value: str) -> None:
    if value == "now":
        turn.case.seen.set_seen_now(now=_now())
        await turn.onward("when")
    else:
        await turn.ask("when_time" if value == "today" else "when_day")


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
    origin: Origin,
    session: AsyncSession,
    tipster: Tipster,
    *,
    vault: Vault,
) -> None:
    """Submit the case once: a second tap, or a retried update, finds the same case."""
    talk, texts = turn.stored, turn.texts
    if talk is not None and talk.last_draft == draft_id and talk.last_ref:
        await turn.say(texts("newcase.submitted", ref=talk.last_ref))
        return
    if talk is None or talk.draft_id != draft_id or turn.current != "confirm":
        await turn.stale()
        return
    try:
        case = await submit_case(
            session,
            draft=talk.to_draft(now=_now()),
            vault=vault,
            channel=origin.channel,
            source_key=origin.source_key,
            tipster_id=tipster.id,
        )
    except InvalidInput as problem:
        why = problem.render(texts.language) if isinstance(problem, CaseProblem) else str(problem)
        await turn.ask("confirm", note=texts("newcase.invalid", problem=why))
        return
    done = texts("newcase.submitted", ref=case.ref)
    if not talk.police_ref:
        done = f"{done}\n\n{texts('newcase.police_warning')}"
    await turn.finish(done, keep=CaseTalk(last_draft=talk.draft_id, last_ref=case.ref))
