"""Fonts and text layout for posters: the Simplified Chinese face of a Noto CJK collection,
line wrapping that breaks Latin text at spaces and CJK text between characters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

DEFAULT_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FONT_INSTALL = "apt-get install fonts-noto-cjk"
_MAX_FACES = 16
# One unit per CJK character (a line may break between any two), Latin words whole, spaces apart.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_UNITS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")
# Closing punctuation never starts a line (kinsoku): it sticks to the unit before it.
_CLOSERS = frozenset("，。、；：！？）」』》〉】”’,.;:!?)")

Font = ImageFont.FreeTypeFont


class PosterFontMissing(Exception):
    """The CJK font for posters is not installed; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class FontSet:
    """The regular and bold faces of the poster font (bold falls back to regular)."""

    regular: Path
    bold: Path

    def regular_at(self, size: int) -> Font:
        """The regular face at size pixels."""
        return _font(self.regular, size)

    def bold_at(self, size: int) -> Font:
        """The bold face at size pixels."""
        return _font(self.bold, size)


def resolve_font(configured: Path | None) -> Path:
    """The poster font: settings.poster_font, else Debian's Noto CJK; raises when missing."""
    path = configured or DEFAULT_FONT
    if not path.is_file():
        raise PosterFontMissing(
            f"posters need a CJK font: {path} is missing (install it with `{FONT_INSTALL}`, "
            "or set TIPLINE_POSTER_FONT to a font that has Chinese glyphs)"
        )
    return path


def font_set(path: Path) -> FontSet:
    """The faces for path: a sibling *-Bold file, when there is one, is the bold face."""
    bold = path.with_name(path.name.replace("Regular", "Bold"))
    return FontSet(regular=path, bold=bold if bold != path and bold.is_file() else path)


@lru_cache(maxsize=8)
def face_index(path: Path) -> int:
    """The Simplified Chinese face of a font collection (.ttc), by its name; 0 otherwise."""
    for index in range(_MAX_FACES):
        try:
            family, _ = ImageFont.truetype(str(path), 12, index=index).getname()
        except OSError:
            break
        if family and family.endswith(" SC") and "Mono" not in family:
            return index
    return 0


@lru_cache(maxsize=64)
def _font(path: Path, size: int) -> Font:
    # The basic layout engine gives the same pixels with or without libraqm installed.
    return ImageFont.truetype(
        str(path), size, index=face_index(path), layout_engine=ImageFont.Layout.BASIC
    )


def text_width(font: Font, text: str) -> float:
    """How wide text is when drawn with font, in pixels."""
    return font.getlength(text)


def _units(text: str) -> list[str]:
    units: list[str] = []
    for unit in _UNITS.findall(text):
        if units and unit[0] in _CLOSERS and not units[-1].isspace():
            units[-1] += unit
        else:
            units.append(unit)
    return units


def _split_long(unit: str, font: Font, width: float) -> list[str]:
    """A word wider than the line, cut between characters."""
    pieces, current = [], ""
    for char in unit:
        if current and text_width(font, current + char) > width:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def wrap(text: str, font: Font, width: float) -> list[str]:
    """text as lines no wider than width; paragraphs (newlines) are kept."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for unit in _units(paragraph):
            if unit.isspace():
                line += " " if line else ""
                continue
            if text_width(font, line + unit) <= width:
                line += unit
                continue
            if line.strip():
                lines.append(line.rstrip())
            *full, line = _split_long(unit, font, width) or [""]
            lines.extend(full)
        lines.append(line.rstrip())
    return lines


def clip(lines: list[str], font: Font, width: float, most: int) -> list[str]:
    """At most `most` lines; when cut, the last one ends with an ellipsis."""
    if len(lines) <= most:
        return lines
    last = lines[most - 1]
    while last and text_width(font, last + "…") > width:
        last = last[:-1]
    return [*lines[: most - 1], last.rstrip() + "…"]


def fit_size(
    text: str, fonts: FontSet, width: float, largest: int, smallest: int, *, bold: bool = True
) -> int:
    """The largest size (down to smallest) at which text fits on one line of width."""
    face = fonts.bold_at if bold else fonts.regular_at
    size = largest
    while size > smallest and text_width(face(size), text) > width:
        size -= 2
    return max(size, smallest)
