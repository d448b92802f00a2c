"""What the bot remembers of a conversation between updates (stored by the FSM in the DB)."""

from __future__ import annotations

import logging

from aiogram.fsm.context import FSMContext
from pydantic import BaseModel, Field, ValidationError

from core.drafts import Draft, DraftPlace

log = logging.getLogger("tipline.handlers")


class CaseChoice(BaseModel):
    """A case offered as a button."""

    ref: str
    name: str
    km: int | None = None  # how far its last-seen place is from a shared location


class Talk(BaseModel):
    """The draft, the steps answered or skipped, and short-lived choices on screen."""

    draft: Draft | None = None
    done: list[str] = Field(default_factory=list)
    offer_cases: bool = False
    near_search: bool = False
    album: str | None = None
    full_album: str | None = None
    places: list[DraftPlace] = Field(default_factory=list)
    typed_place: str | None = None
    cases: list[CaseChoice] = Field(default_factory=list)
    target_ref: str | None = None
    resume: str | None = None
    last_draft: str | None = None
    last_ref: str | None = None

    def mark(self, step: str) -> None:
        """Remember a step as answered or skipped."""
        if step not in self.done:
            self.done.append(step)

    def forget_draft(self) -> None:
        """Drop the draft and everything about it (sent or cancelled)."""
        self.draft, self.done, self.album, self.full_album = None, [], None, None
        self.places, self.typed_place, self.cases = [], None, []
        self.near_search = False


async def load(state: FSMContext) -> Talk:
    """The conversation so far (a fresh one if what is stored no longer parses)."""
    data = await state.get_data()
    try:
        return Talk.model_validate(data)
    except ValidationError:
        log.warning("conversation data did not parse; starting afresh")
        return Talk()


async def save(state: FSMContext, talk: Talk) -> None:
    """Store the conversation (committed with the update by the processor)."""
    await state.set_data(talk.model_dump(mode="json"))
