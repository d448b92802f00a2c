"""One turn of the report conversation: load the talk, change it, ask the next question."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases import has_public_cases
from core.drafts import Attachment, Draft
from core.i18n import Texts
from handlers.sending import send_text
from handlers.states import Report
from handlers.talk import Talk, load, save
from handlers.views import view

TELEGRAM_TEXT_LIMIT = 4096
STEPS = ("case", "what", "when", "where", "media", "contact", "confirm")
STATES: dict[str, State] = {
    "case": Report.case,
    "what": Report.what,
    "when": Report.when,
    "when_time": Report.when_time,
    "when_day": Report.when_day,
    "where": Report.where,
    "where_pick": Report.where_pick,
    "media": Report.media,
    "contact": Report.contact,
    "confirm": Report.confirm,
}
PARENT = {"when_time": "when", "when_day": "when", "where_pick": "where"}


# True while handling a button press the webhook already answered in its response (set from
# the update's `acknowledged` by bot.processor): acknowledge() then makes no call.
answered_at_admission: ContextVar[bool] = ContextVar("answered_at_admission", default=False)


async def acknowledge(query: CallbackQuery) -> None:
    """Stop the button's spinner; a retried update finds the query already answered or too old."""
    if answered_at_admission.get():
        return
    with contextlib.suppress(TelegramBadRequest):
        await query.answer()


def view_of(raw_state: str | None) -> str | None:
    """The view name of a Report state ("Report:when_time" -> "when_time"), else None."""
    if not raw_state or not raw_state.startswith("Report:"):
        return None
    return raw_state.partition(":")[2]


def step_of(raw_state: str | None) -> str | None:
    """The step a Report state belongs to ("Report:when_time" -> "when")."""
    name = view_of(raw_state)
    return PARENT.get(name, name) if name else None


def _done(step: str, talk: Talk, draft: Draft) -> bool:
    checks = {
        "case": not talk.offer_cases or bool(draft.case_ref) or draft.case_unknown,
        "what": bool(draft.text),
        "when": draft.when is not None,
        "where": draft.place is not None,
    }
    return step in talk.done or checks.get(step, False)


@dataclass
class Turn:
    """The chat, its stored talk and the tipster's language, for one update."""

    bot: Bot
    chat_id: int
    state: FSMContext
    texts: Texts
    talk: Talk

    @classmethod
    async def of(cls, event: Message | CallbackQuery, state: FSMContext, texts: Texts) -> Turn:
        """Load the conversation of the event's chat."""
        chat_id = event.chat.id if isinstance(event, Message) else event.from_user.id
        bot = event.bot
        if bot is None:
            raise RuntimeError("event without a bot")
        return cls(bot=bot, chat_id=chat_id, state=state, texts=texts, talk=await load(state))

    @property
    def draft(self) -> Draft:
        """The draft (one is made if there was none)."""
        if self.talk.draft is None:
            self.talk.draft = Draft()
        return self.talk.draft

    async def begin(self, session: AsyncSession) -> bool:
        """Start a draft unless one is going; False when one was already going."""
        if self.talk.draft is not None:
            return False
        self.talk.forget_draft()
        self.talk.draft = Draft()
        self.talk.offer_cases = await has_public_cases(session)
        return True

    async def current(self) -> str | None:
        """The view the tipster is on, if they are in a report."""
        return view_of(await self.state.get_state())

    def next_step(self) -> str:
        """The first step not answered yet (confirm when all are)."""
        draft = self.draft
        return next(step for step in STEPS if not _done(step, self.talk, draft))

    def previous_step(self, step: str) -> str | None:
        """The step before this one (the case step only when cases are offered)."""
        earlier = STEPS[: STEPS.index(step)]
        return next((s for s in reversed(earlier) if s != "case" or self.talk.offer_cases), None)

    async def say(self, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Send a message (cut to Telegram's limit) and store the talk."""
        await save(self.state, self.talk)
        if len(text) > TELEGRAM_TEXT_LIMIT:
            text = text[: TELEGRAM_TEXT_LIMIT - 1] + "…"
        await send_text(self.bot, self.chat_id, text, keyboard)

    async def ask(self, name: str, *, note: str | None = None) -> None:
        """Move to a step (or sub-step) and ask its question, after an optional note."""
        await self.state.set_state(STATES[name])
        text, keyboard = view(name, self.talk, self.texts)
        await self.say(f"{note}\n\n{text}" if note else text, keyboard)

    async def advance(self, *, note: str | None = None) -> None:
        """Ask the first step not answered yet."""
        await self.ask(self.next_step(), note=note)

    async def stay(self, *, note: str | None = None) -> None:
        """Ask the current step again (after out-of-order input), or the next one if none."""
        name = await self.current()
        await self.ask(name or self.next_step(), note=note)

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

    async def keep(self) -> None:
        """Store the talk without saying anything (the rest of an album)."""
        await save(self.state, self.talk)

    async def cancel(self) -> None:
        """Stop an /add or answer (the report waits), else drop the draft; nothing is sent."""
        if self.talk.target_ref is not None:
            await self.resume(note=self.texts("add.stopped", ref=self.talk.target_ref))
            return
        had_draft = self.talk.draft is not None
        self.talk.forget_draft()
        self.talk.target_ref, self.talk.resume = None, None
        await self.state.set_state(None)
        await self.say(self.texts("report.cancelled" if had_draft else "report.nothing_to_cancel"))

    async def suspend(self, target_ref: str) -> None:
        """Leave the report (if any) to work on a sent tip; resume() comes back to it."""
        current = await self.state.get_state()
        if current and current.startswith("Report:"):
            self.talk.resume = current
        self.talk.target_ref = target_ref

    async def resume(self, *, note: str) -> None:
        """Back to the report step left by suspend(), or to no state."""
        name = view_of(self.talk.resume)
        self.talk.resume, self.talk.target_ref = None, None
        if name and self.talk.draft is not None:
            await self.ask(name, note=note)
            return
        await self.state.set_state(None)
        await self.say(note)
