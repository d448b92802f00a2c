"""Buttons every flow shows: back / skip / cancel, and keyboards built once per language."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from core.i18n import Texts
from handlers.engine.channel import Button, Keyboard, button


def nav_row(
    texts: Texts, prefix: str, step: str, *, back: bool = True, skip: str | None = None
) -> list[Button]:
    """Back, Skip (with its label key) and Cancel for a step: data `<prefix>:<step>:<action>`."""
    row = [button(texts("button.back"), prefix, step, "back")] if back else []
    if skip:
        row.append(button(texts(skip), prefix, step, "skip"))
    row.append(button(texts("button.cancel"), prefix, step, "cancel"))
    return row


def shared(build: Callable[..., Keyboard]) -> Callable[..., Keyboard]:
    """A keyboard that depends only on the language (and hashable flags): built once per
    language and shared by every message that shows it (the channel converts it once too)."""
    built = cache(lambda language, *flags: build(Texts(language), *flags))
    return lambda texts, *flags: built(texts.language, *flags)
