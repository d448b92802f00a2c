"""Callback data on Telegram: the buttons' data (at most 64 bytes) read back into fields."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from handlers.report.views import ADDING, CONFIRM, NAV, PICK
from handlers.tipster.answers import ANSWER
from handlers.tipster.language import LANGUAGE
from handlers.tipster.start import MENU


class Menu(CallbackData, prefix=MENU):
    """The /start menu: report, check, about."""

    action: str


class StepNav(CallbackData, prefix="nav"):
    """back / skip / cancel on a flow's step; the step makes a stale button harmless."""

    step: str
    action: str


class StepPick(CallbackData, prefix="pick"):
    """A choice on a flow's step."""

    step: str
    value: str


class DraftSend(CallbackData, prefix="send"):
    """Send a flow's draft with this id (a double tap finds the same tip or case)."""

    draft: str


class Nav(StepNav, prefix=NAV):
    """The report's back / skip / cancel."""


class Pick(StepPick, prefix=PICK):
    """A choice on a report step: a case, a moment, a place candidate, contact yes/no."""


class Confirm(DraftSend, prefix=CONFIRM):
    """Send the report."""


class Lang(CallbackData, prefix=LANGUAGE):
    """Switch the tipster's language."""

    code: str


class Answer(CallbackData, prefix=ANSWER):
    """Answer a moderator's question about one's own tip (sent by the moderation side)."""

    ref: str


class AddDone(CallbackData, prefix=ADDING):
    """Finish /add or an answer."""

    action: str
