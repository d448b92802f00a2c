"""Inline buttons: short callback data (at most 64 bytes) and the keyboards of each step."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from core.i18n import Texts

MAX_LABEL = 60


class Menu(CallbackData, prefix="m"):
    """The /start menu: report, check, about."""

    action: str


class Nav(CallbackData, prefix="n"):
    """back / skip / cancel on a step; the step makes a stale button harmless."""

    step: str
    action: str


class Pick(CallbackData, prefix="p"):
    """A choice on a step: a case, a moment, a place candidate, contact yes/no."""

    step: str
    value: str


class Confirm(CallbackData, prefix="ok"):
    """Send the draft with this id (a double tap finds the same tip)."""

    draft: str


class Lang(CallbackData, prefix="l"):
    """Switch the tipster's language."""

    code: str


class Answer(CallbackData, prefix="ans"):
    """Answer a moderator's question about one's own tip (sent by the moderation side)."""

    ref: str


class AddDone(CallbackData, prefix="a"):
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


def nav_row(texts: Texts, step: str, *, back: bool = True, skip: str | None = None) -> Row:
    """Back, Skip (with its label key) and Cancel for a step."""
    row = [button(texts("button.back"), Nav(step=step, action="back"))] if back else []
    if skip:
        row.append(button(texts(skip), Nav(step=step, action="skip")))
    row.append(button(texts("button.cancel"), Nav(step=step, action="cancel")))
    return row


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


def finish(texts: Texts) -> InlineKeyboardMarkup:
    """Done with /add or an answer."""
    return markup([button(texts("button.done"), AddDone(action="done"))])
