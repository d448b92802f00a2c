"""The report as a flow of the engine: its steps, and how a turn of it moves between them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.public import get_public_case, has_public_cases
from core.tips.drafts import Attachment, Draft
from handlers.common.when import SUB_STEPS
from handlers.engine.wizard import Flow, Wizard
from handlers.report.state import CaseChoice, Talk, legacy
from handlers.report.views import VIEWS
from storage.models import Case

STEPS = ("case", "what", "when", "where", "media", "contact", "confirm")
REPORT = Flow(
    group="Report",
    key="report",
    model=Talk,
    steps=STEPS,
    views=VIEWS,
    stale="report.stale_button",
    parent=SUB_STEPS,
    legacy=legacy,
)


def _done(step: str, talk: Talk, draft: Draft) -> bool:
    checks = {
        "case": not talk.offer_cases or bool(draft.case_ref) or draft.case_unknown,
        "what": bool(draft.text),
        "when": draft.when is not None,
        "where": draft.place is not None,
    }
    return step in talk.done or checks.get(step, False)


class Turn(Wizard[Talk]):
    """One update of the report: the draft, the steps answered, the choices on screen."""

    flow = REPORT

    @property
    def talk(self) -> Talk:
        """The report's state."""
        return self.model

    @property
    def draft(self) -> Draft:
        """The draft (one is made if there was none)."""
        if self.talk.draft is None:
            self.talk.draft = Draft()
        return self.talk.draft

    @property
    def active(self) -> bool:
        """A draft is going."""
        return self.talk.draft is not None

    async def begin(self, session: AsyncSession) -> bool:
        """Start a draft unless one is going; False when one was already going."""
        if self.talk.draft is not None:
            return False
        self.talk.forget_draft()
        self.talk.draft = Draft()
        self.talk.offer_cases = await has_public_cases(session)
        return True

    async def start_or_resume(self, session: AsyncSession) -> None:
        """Report a sighting (the menu's choice): a new draft, or carry on with the one going."""
        if await self.begin(session):
            await self.advance()
        else:
            await self.stay(note=self.texts("note.report_continues"))

    async def about_code(self, session: AsyncSession, code: str) -> None:
        """A report about the public case with this code (an alert's button, a poster's link)."""
        await self.about_case(session, await get_public_case(session, code=code), code)

    async def about_case(self, session: AsyncSession, case: Case | None, code: str) -> None:
        """A report about one case (a poster's link, an alert's or a case card's button)."""
        await self.begin(session)
        if case is None:
            self.draft.case_unknown, self.draft.case_ref = True, None
            note = self.texts("report.case_not_found", code=code[:20])
        else:
            self.draft.case_ref, self.draft.case_unknown = case.ref, False
            self.talk.cases = [CaseChoice(ref=case.ref, name=case.full_name)]
            note = self.texts("report.case_picked", case=f"{case.full_name} ({case.ref})")
        self.talk.mark("case")
        await self.advance(note=note)

    def next_step(self) -> str:
        """The first step not answered yet (confirm when all are)."""
        draft = self.draft
        return next(step for step in STEPS if not _done(step, self.talk, draft))

    def first(self) -> str:
        """With no step on screen, the first one not answered."""
        return self.next_step()

    def shown(self, step: str) -> bool:
        """The case step is asked only when there are public cases."""
        return step != "case" or self.talk.offer_cases

    async def advance(self, *, note: str | None = None) -> None:
        """Ask the first step not answered yet."""
        await self.ask(self.next_step(), note=note)

    async def onward(self, step: str, *, note: str | None = None) -> None:
        """A step is answered: ask the first one not answered yet (input comes in any order)."""
        await self.advance(note=note)

    async def skip(self, step: str) -> None:
        """Skip a step (an unknown moment, no contact) and ask the next one not answered."""
        if step == "when":
            self.draft.set_seen_unknown()
        elif step == "contact":
            self.draft.contact_allowed = False
        self.talk.mark(step)
        await self.advance()

    def take_file(self, attachment: Attachment) -> str | None:
        """Add a file to the draft: the note key to answer with, or None (rest of an album)."""
        talk, album = self.talk, attachment.media_group_id
        if not self.draft.add_attachment(attachment):
            if album and talk.full_album == album:
                return None
            talk.full_album = album
            return "note.files_full"
        if album and talk.album == album:
            return None
        talk.album = album
        return "note.album_saved" if album else "note.file_saved"

    async def cancel(self) -> bool:
        """Stop an /add or answer (the report waits), else drop the draft; nothing is sent."""
        if self.talk.target_ref is not None:
            await self.resume(note=self.texts("add.stopped", ref=self.talk.target_ref))
            return True
        had_draft = self.talk.draft is not None
        self.talk.forget_draft()
        self.talk.target_ref, self.talk.resume = None, None
        self.conversation.go(None)
        await self.say(self.texts("report.cancelled" if had_draft else "report.nothing_to_cancel"))
        return True

    def suspend(self, target_ref: str, state: str) -> None:
        """Leave the report (if any) for a sent tip, in `state`; resume() comes back to it."""
        if self.current is not None:
            self.talk.resume = self.conversation.state
        self.talk.target_ref = target_ref
        self.conversation.go(state)

    async def resume(self, *, note: str) -> None:
        """Back to the report step left by suspend(), or to no state."""
        name = REPORT.view_of(self.talk.resume)
        self.talk.resume, self.talk.target_ref = None, None
        if name and self.talk.draft is not None:
            await self.ask(name, note=note)
            return
        self.conversation.go(None)
        await self.say(note)
