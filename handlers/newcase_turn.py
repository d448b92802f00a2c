"""One turn of /newcase: load the case in the making, change it, ask the next question."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from core.i18n import Texts
from handlers.newcase_draft import CaseTalk, load_case, save_case
from handlers.newcase_views import PARENT, STEPS, view
from handlers.states import NewCase
from handlers.talk import load
from handlers.turn import TELEGRAM_TEXT_LIMIT, Turn, view_of

PREFIX = "NewCase:"
STATES: dict[str, State] = {
    name: getattr(NewCase, name) for name in (*STEPS, "when_time", "when_day", "where_pick")
}


def case_view_of(raw_state: str | None) -> str | None:
    """The view of a NewCase state ("NewCase:when_time" -> "when_time"), else None."""
    if not raw_state or not raw_state.startswith(PREFIX):
        return None
    return raw_state.removeprefix(PREFIX)


def case_step_of(raw_state: str | None) -> str | None:
    """The step a NewCase state belongs to ("NewCase:when_time" -> "when")."""
    name = case_view_of(raw_state)
    return PARENT.get(name, name) if name else None


@dataclass
class CaseTurn:
    """The chat, the case in the making and the sender's language, for one update."""

    bot: Bot
    chat_id: int
    state: FSMContext
    texts: Texts
    talk: CaseTalk | None

    @classmethod
    async def of(cls, event: Message | CallbackQuery, state: FSMContext, texts: Texts) -> CaseTurn:
        """Load the case in the making of the event's chat."""
        chat_id = event.chat.id if isinstance(event, Message) else event.from_user.id
        if event.bot is None:
            raise RuntimeError("event without a bot")
        talk = await load_case(state)
        return cls(bot=event.bot, chat_id=chat_id, state=state, texts=texts, talk=talk)

    @property
    def case(self) -> CaseTalk:
        """The case in the making (one is made if there was none)."""
        if self.talk is None:
            self.talk = CaseTalk()
        return self.talk

    async def current(self) -> str | None:
        """The /newcase view the sender is on, if any."""
        return case_view_of(await self.state.get_state())

    async def say(self, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Send a message (cut to Telegram's limit) and store the case in the making."""
        await save_case(self.state, self.talk)
        if len(text) > TELEGRAM_TEXT_LIMIT:
            text = text[: TELEGRAM_TEXT_LIMIT - 1] + "…"
        await self.bot.send_message(self.chat_id, text, reply_markup=keyboard)

    async def ask(self, name: str, *, note: str | None = None) -> None:
        """Move to a step (or sub-step) and ask its question, after an optional note."""
        await self.state.set_state(STATES[name])
        text, keyboard = view(name, self.case, self.texts)
        await self.say(f"{note}\n\n{text}" if note else text, keyboard)

    async def ask_after(self, step: str, *, note: str | None = None) -> None:
        """Ask the step that follows this one."""
        await self.ask(STEPS[STEPS.index(PARENT.get(step, step)) + 1], note=note)

    async def ask_before(self, name: str) -> None:
        """Back: a sub-step goes to its step, a step to the one before it."""
        if name in PARENT:
            await self.ask(PARENT[name])
            return
        await self.ask(STEPS[max(STEPS.index(name) - 1, 0)])

    async def stay(self, *, note: str | None = None) -> None:
        """Ask the current step again (after input it cannot use)."""
        await self.ask(await self.current() or "kind", note=note)

    async def keep(self) -> None:
        """Store the case without saying anything (the rest of an album)."""
        await save_case(self.state, self.talk)

    async def finish(self, note: str, *, keep: CaseTalk | None = None) -> None:
        """End /newcase: back to a report it interrupted (kept), else to no state."""
        resume = self.talk.resume if self.talk is not None else None
        self.talk = keep
        await save_case(self.state, keep)
        name = view_of(resume)
        if name is not None:
            talk = await load(self.state)
            report = Turn(self.bot, self.chat_id, self.state, self.texts, talk)
            if report.talk.draft is not None:
                await self.bot.send_message(self.chat_id, note)
                await report.ask(name, note=self.texts("newcase.report_resumed"))
                return
        await self.state.set_state(None)
        await self.bot.send_message(self.chat_id, note)
