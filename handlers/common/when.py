"""The "when?" step every flow with a last-seen moment shares: now, earlier today (a time) or
another day (a date), typed or picked. Channel-free."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.i18n import Texts
from core.tips.drafts import Draft
from handlers.common.where import Nav
from handlers.engine.channel import Keyboard, button, keyboard
from handlers.engine.wizard import Wizard

STEP = "when"
SUB_STEPS = {"when_time": STEP, "when_day": STEP, "where_pick": "where"}
"""The sub-steps of when and where, and the step each belongs to."""


def _now() -> datetime:
    return datetime.now(UTC)


def keys(texts: Texts, pick: str, nav: Nav) -> Keyboard:
    """Now / Earlier today / Another day (`<pick>:when:<value>`), and I don't know."""
    return keyboard(
        [button(texts("button.when_now"), pick, STEP, "now")],
        [
            button(texts("button.when_today"), pick, STEP, "today"),
            button(texts("button.when_day"), pick, STEP, "day"),
        ],
        nav(texts, STEP, skip="button.when_unknown"),
    )


async def picked(wizard: Wizard[Any], draft: Draft, value: str) -> None:
    """Now is taken at once; earlier today asks the time, another day the date."""
    if value == "now":
        draft.set_seen_now(now=_now())
        await wizard.onward(STEP)
    else:
        await wizard.ask("when_time" if value == "today" else "when_day")


async def typed(wizard: Wizard[Any], draft: Draft, text: str) -> None:
    """A typed moment ("14:30", "20/11 14:30", "2026-11-20"); one that does not read, lies in
    the future, or lacks the date another day needs is explained and asked again."""
    name = wizard.current or STEP
    outcome = draft.set_seen_from_text(text, now=_now(), need_date=name == "when_day")
    if outcome == "ok":
        await wizard.onward(name)
        return
    await wizard.ask(name, note=wizard.texts(f"report.when_{outcome}", text=text[:50]))
