"""/newcase as a flow of the engine: its steps, and how a turn of it moves between them."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.engine.wizard import Conversation, Flow, Wizard
from handlers.newcase.state import CaseTalk
from handlers.newcase.views import PARENT, STEPS, VIEWS
from handlers.report.flow import REPORT
from handlers.report.flow import Turn as ReportTurn

NEWCASE = Flow(
    group="NewCase",
    key="newcase",
    model=CaseTalk,
    steps=STEPS,
    views=VIEWS,
    stale="newcase.stale_button",
    parent=PARENT,
)


def _now() -> datetime:
    return datetime.now(UTC)


class CaseTurn(Wizard[CaseTalk]):
    """One update of /newcase: the case in the making (`stored` is None when none is going)."""

    flow = NEWCASE

    @classmethod
    async def going(cls, conversation: Conversation) -> CaseTurn | None:
        """The turn when a case is in the making; else /newcase ends, saying it expired."""
        turn = await cls.of(conversation)
        if turn.stored is None:
            await turn.finish(turn.texts("newcase.expired"))
            return None
        return turn

    @classmethod
    async def start(cls, conversation: Conversation) -> None:
        """/newcase: explain what a case is, then ask which kind; a report in progress waits
        (and comes back after), a case in the making carries on."""
        turn = await cls.of(conversation)
        if turn.current is not None and turn.stored is not None:
            await turn.stay(note=turn.texts("newcase.continues"))
            return
        state = conversation.state
        turn.replace(CaseTalk(resume=state if REPORT.view_of(state) is not None else None))
        await turn.ask("kind")

    @property
    def case(self) -> CaseTalk:
        """The case in the making (one is made if there was none)."""
        return self.model

    async def skip(self, step: str) -> None:
        """Clear what a skipped step held and ask the next (no police report: say what it costs)."""
        talk = self.case
        cleared = ("nicknames", "marks", "languages", "dialect", "circumstances")
        if step in cleared:
            setattr(talk, step, "")
        if step == "languages":
            talk.dialect = ""
        elif step == "sex":
            talk.sex = None
        elif step == "born":
            talk.birth_date, talk.age_years = None, None
        elif step == "when":
            talk.seen.set_seen_unknown()
        elif step == "where":
            talk.seen.set_place(None, now=_now())
            talk.places, talk.typed_place = [], None
        elif step == "police":
            talk.police_ref = None
        note = self.texts("newcase.police_warning") if step == "police" else None
        await self.onward(step, note=note)

    async def cancel(self) -> bool:
        """Drop the case in the making (False when none is going: the button is stale)."""
        if self.stored is None:
            return False
        await self.finish(self.texts("newcase.cancelled"))
        return True

    async def finish(self, note: str, *, keep: CaseTalk | None = None) -> None:
        """End /newcase: back to a report it interrupted (kept), else to no state."""
        resume = self.stored.resume if self.stored is not None else None
        self.replace(keep)
        name = REPORT.view_of(resume)
        if name is not None:
            report = await ReportTurn.of(self.conversation)
            if report.talk.draft is not None:
                await self.say(note)
                await report.ask(name, note=self.texts("newcase.report_resumed"))
                return
        self.conversation.go(None)
        await self.say(note)
