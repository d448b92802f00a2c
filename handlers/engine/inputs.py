"""What a person sends, as plain input any channel can produce: text, a place, a file, a button
press (the button's data) or a command; and what a channel cannot read, as the text key that
says what the tip line reads instead."""

from __future__ import annotations

from dataclasses import dataclass

from core.tips.drafts import Attachment
from handlers.engine.channel import Point

# Typed alone without a slash these are commands too (a channel without a command menu); a word
# that could be a sighting's description, like "start", needs its slash.
BARE_COMMANDS = {
    "cancel": "cancel",
    "help": "help",
    "status": "status",
    "language": "language",
    "mute": "mute",
    "unmute": "unmute",
    "取消": "cancel",
    "帮助": "help",
}
# A link's code typed (or prefilled by a wa.me link) on its own is /start with that code.
LINK_PREFIXES = ("family_", "case_")


@dataclass(frozen=True, slots=True)
class Text:
    """Typed text."""

    text: str


@dataclass(frozen=True, slots=True)
class Place:
    """A shared point."""

    point: Point


@dataclass(frozen=True, slots=True)
class Media:
    """A file, with its caption."""

    attachment: Attachment
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed: the data it was sent with."""

    data: str


@dataclass(frozen=True, slots=True)
class Command:
    """A command (/start, /status, /help...) or one no flow knows, with what followed it."""

    name: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Something the tip line does not read; `key` is the text that says what it reads."""

    key: str


Input = Text | Place | Media | Press | Command | Unreadable


def read_text(text: str) -> Text | Command:
    """Typed text, or the command it is ("/cancel", "cancel", "/status K7Q2", "/start@bot",
    "family_CODE"; a /word we do not know is a command too, answered as unknown rather than
    taken as a sighting)."""
    word = text.strip()
    bare = BARE_COMMANDS.get(word.lower())
    if bare is not None:
        return Command(bare)
    if word.lower().startswith(LINK_PREFIXES) and len(word.split()) == 1:
        return Command("start", word)
    head, *rest = word[1:].split(maxsplit=1) if word.startswith("/") else [""]
    name = head.split("@")[0].lower()
    return Command(name, "".join(rest)) if name.isidentifier() else Text(text)
