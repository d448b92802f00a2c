"""Inline buttons: short callback data (at most 64 bytes) and the keyboards of each step."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.i18n import Texts
from handlers.report.views import ADDING, CONFIRM, NAV, PICK

MAX_LABEL = 60


class Menu(CallbackData, prefix="m"):
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


class Lang(CallbackData, prefix="l"):
    """Switch the tipster's language."""

    code: str


class Answer(CallbackData, prefix="ans"):
    """Answer a moderator's question about one's own tip (sent by the moderation side)."""

    ref: str


class AddDone(CallbackData, prefix=ADDING):
    """Finish /add or an answer."""

    action: str


Row = list[InlineKeyboardButton]


def button(label: str, data: CallbackData) -> InlineKeyboardButton:
    """One button; long labels (case names, places) are cut to fit a phone."""
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "…"
    return InlineKeyboardButton(text=label, callback_data=data.pack())


def markup(*rows: Row) -> InlineKeyboardMarkup:
    """A keyboard from rows, leaving out empty ones."""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def shared(
    build: Callable[..., InlineKeyboardMarkup],
) -> Callable[..., InlineKeyboardMarkup]:
    """A keyboard that depends only on the language (and hashable flags): built once per
    language and shared by every message that shows it (nothing changes a keyboard once sent).
    Building one took 30-80 us of pydantic models on every step of every report."""
    built = cache(lambda language, *flags: build(Texts(language), *flags))
    return lambda texts, *flags: built(texts.language, *flags)


@shared
def main_menu(texts: Texts) -> InlineKeyboardMarkup:
    """Report a sighting / Check a tip / About & privacy."""
    return markup(
        [button(texts("menu.report"), Menu(action="report"))],
        [button(texts("menu.check"), Menu(action="check"))],
        [button(texts("menu.about"), Menu(action="about"))],
    )


def languages(texts: Texts) -> InlineKeyboardMarkup:
    """English / 简体中文."""
    return markup(
        [
            button(texts("language.en"), Lang(code="en")),
            button(texts("language.zh"), Lang(code="zh-Hans")),
        ]
    )
