"""How many SMS segments a text takes, and the typographic characters that needlessly make a
text UCS-2.

GSM-7 (the GSM 03.38 default alphabet) holds 160 characters in one segment and 153 per part of
a longer message; its extension table (^ { } \\ [ ] ~ | € and form feed) costs two. Any other
character makes the whole message UCS-2: 70 UTF-16 units in one segment, 67 per part, and a
character outside the BMP (most emoji) is two units. A character that costs two is never split
across parts, as phones and providers do.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[]~|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
# What smart phones type that GSM-7 lacks, and its plain equivalent (as providers' "smart
# encoding" does): one curly quote must not cost a text half its room.
PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "…": "...",
        "–": "-",
        "—": "-",
        "‹": "<",
        "›": ">",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True, slots=True)
class Size:
    """A text's encoding and how many segments it takes."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether the text can go in the GSM-7 alphabet (with its extension table)."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def plain(text: str) -> str:
    """The text with curly quotes, dashes and ellipses made plain, when that alone makes it
    GSM-7; otherwise unchanged (a Chinese text stays as written)."""
    flat = text.translate(PLAIN)
    return flat if is_gsm7(flat) else text


def size(text: str) -> Size:
    """The text's encoding, length in units, and segment count."""
    if is_gsm7(text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return Size("GSM-7", sum(costs), _segments(costs, GSM7_SINGLE, GSM7_PART))
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return Size("UCS-2", sum(costs), _segments(costs, UCS2_SINGLE, UCS2_PART))


def _segments(costs: list[int], single: int, part: int) -> int:
    """One segment when it all fits; otherwise parts filled in order, never splitting a
    character's units between two parts."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts
