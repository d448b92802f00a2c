"""What the report remembers between updates (under the "report" key of the chat's data)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from core.tips.drafts import Draft
from handlers.common.where import Choosing
from handlers.engine.wizard import Sent


class CaseChoice(BaseModel):
    """A case offered as a button."""

    ref: str
    name: str
    km: int | None = None  # how far its last-seen place is from a shared location


class Talk(Sent, Choosing):
    """The draft, the steps answered or skipped, and short-lived choices on screen."""

    draft: Draft | None = None
    done: list[str] = Field(default_factory=list)
    offer_cases: bool = False
    near_search: bool = False
    album: str | None = None
    full_album: str | None = None
    cases: list[CaseChoice] = Field(default_factory=list)
    target_ref: str | None = None
    resume: str | None = None

    def mark(self, step: str) -> None:
        """Remember a step as answered or skipped."""
        if step not in self.done:
            self.done.append(step)

    def forget_draft(self) -> None:
        """Drop the draft and everything about it (sent or cancelled)."""
        self.draft, self.done, self.album, self.full_album = None, [], None, None
        self.places, self.typed_place, self.cases = [], None, []
        self.near_search = False


def legacy(data: dict[str, Any]) -> dict[str, Any]:
    """Before flows had keys, the report's fields were the top level of the data."""
    return {key: value for key, value in data.items() if key in Talk.model_fields}
