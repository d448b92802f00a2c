"""Translations: user-facing texts live in locales/<lang>/LC_MESSAGES/*.po, keyed by id.

tipline.po holds the tip line; each larger feature keeps its own file (cases.po, alerts.po) so
they can change independently. A key defined in two files of one language is an error."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LANGUAGE = "en"
SUPPORTED = ("en", "zh-Hans")
LEANS_ON = {"sms": "chat"}


@lru_cache(maxsize=8)
def catalog(language: str) -> dict[str, str]:
    """All texts of one language, read once from its .po files."""
    texts: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            parsed = read_po(handle, locale=language.replace("-", "_"))
        for message in parsed:
            if not (message.id and message.string):
                continue
            if str(message.id) in texts:
                raise ValueError(f"text '{message.id}' is defined twice in locales/{language}")
            texts[str(message.id)] = str(message.string)
    return texts


class Texts:
    """Texts of one language, falling back to English for anything not yet translated.

    A `variant` ("chat": WhatsApp; "sms") reads `<key>@<variant>` where a text says something
    untrue there (Telegram's /status and /add, a location to share on SMS), then the variant it
    leans on (LEANS_ON: SMS says what WhatsApp says, unless it says it its own way), and the
    key itself everywhere else.
    """

    def __init__(self, language: str, variant: str | None = None) -> None:
        self.language = language if language in SUPPORTED else DEFAULT_LANGUAGE
        self.variant = variant
        self._own = catalog(self.language)
        self._fallback = catalog(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **values: Any) -> str:
        """The text for key, with {placeholders} filled in."""
        variant = self.variant
        while variant is not None:
            if f"{key}@{variant}" in self._fallback:
                key = f"{key}@{variant}"
                break
            variant = LEANS_ON.get(variant)
        template = self._own.get(key) or self._fallback.get(key)
        if template is None:
            raise KeyError(f"no text '{key}' in locales/{DEFAULT_LANGUAGE}")
        return template.format(**values) if values else template


def placeholders(template: str) -> set[str]:
    """The {names} a template expects (used by the tests that compare languages)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}
