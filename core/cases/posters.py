"""Printable posters of public cases: A4 PNG and PDF, in English and/or Simplified Chinese,
with the photo, the key facts, a QR code to the bot and the web address (docs/cases.md)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageOps

from core.cases.poster_layout import (
    FontSet,
    PosterFontMissing,
    clip,
    fit_size,
    font_set,
    resolve_font,
    wrap,
)
from core.i18n import Texts

__all__ = ["PosterData", "PosterFontMissing", "qr_placement", "render_poster", "resolve_font"]

DPI = 150
SIZE = WIDTH, HEIGHT = (1240, 1754)  # A4 portrait at 150 dpi
MARGIN = 60
RED, INK, GREY, PAPER = (190, 0, 0), (20, 20, 20), (90, 90, 90), (255, 255, 255)
PHOTO_BOX = (MARGIN, 405, MARGIN + 520, 405 + 580)
FACTS_LEFT = PHOTO_BOX[2] + 40
QR_TOP, QR_SIDE = 1250, 360
WARNING_TOP = 1634
Draw = ImageDraw.ImageDraw


@dataclass(frozen=True, slots=True)
class PosterData:
    """Everything a poster prints: public fields only, never a contact or police reference."""

    ref: str
    kind: str  # missing | found
    name: str
    languages: tuple[str, ...]  # the poster's languages: "en" and/or "zh-Hans"
    bot_link: str  # https://t.me/<bot>?start=case_<ref>; "" without a bot (QR: web_link)
    web_link: str  # <base_url>/people/<ref>
    nicknames: str = ""
    age_years: int | None = None
    sex: str | None = None  # female | male | None
    last_seen_at: datetime | None = None  # UTC; printed at utc_offset
    utc_offset: timedelta | None = None  # of the last-seen place, when known
    last_seen_place: str = ""
    marks: str = ""
    description: str = ""
    photo: bytes | None = None  # our sanitised display copy, never an original


@dataclass(frozen=True, slots=True)
class QrPlacement:
    """Where the QR code sits on the poster, and the matrix it draws (one row per line)."""

    left: int
    top: int
    module: int  # pixels per module
    border: int  # quiet-zone modules around the code
    matrix: tuple[tuple[bool, ...], ...]


def qr_placement(link: str) -> QrPlacement:
    """The QR code for link and where the poster draws it."""
    code = segno.make(link, error="m", micro=False, boost_error=False)
    matrix = tuple(tuple(bool(v) for v in row) for row in code.matrix)
    border = 4
    module = QR_SIDE // (len(matrix) + 2 * border)
    return QrPlacement(left=MARGIN, top=QR_TOP, module=module, border=border, matrix=matrix)


class _Texts:
    """The poster's texts in each of its languages, joined for bilingual labels."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        self.each = [Texts(language) for language in languages or ("en",)]

    def joined(self, key: str, sep: str = " / ", **values: object) -> str:
        parts: list[str] = []
        for texts in self.each:
            text = texts(key, **values)
            if text not in parts:
                parts.append(text)
        return sep.join(parts)

    def lines(self, key: str, **values: object) -> list[str]:
        return list(dict.fromkeys(texts(key, **values) for texts in self.each))


def render_poster(*, poster: PosterData, font_path: Path) -> tuple[bytes, bytes]:
    """The poster as (PNG, PDF): A4 portrait; the same input gives the same bytes."""
    fonts = font_set(resolve_font(font_path))
    texts = _Texts(poster.languages)
    image = Image.new("RGB", SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    _header(draw, fonts, texts, poster)
    _photo(image, draw, fonts, texts, poster.photo)
    _facts(draw, fonts, texts, poster)
    _qr(image, poster.bot_link or poster.web_link)
    _footer(draw, fonts, texts, poster)
    png, pdf = io.BytesIO(), io.BytesIO()
    image.save(png, "PNG", dpi=(DPI, DPI))
    # No dates in the PDF (determinism); JPEG quality high enough for crisp small text.
    image.save(pdf, "PDF", resolution=DPI, quality=92, creationDate=None, modDate=None)
    return png.getvalue(), pdf.getvalue()


def _header(draw: Draw, fonts: FontSet, texts: _Texts, poster: PosterData) -> None:
    draw.rectangle((0, 0, WIDTH, 220), fill=RED)
    title = texts.joined(f"poster.title.{poster.kind}", sep="  ")
    size = fit_size(title, fonts, WIDTH - 2 * MARGIN, 160, 72)
    draw.text((WIDTH // 2, 110), title, font=fonts.bold_at(size), fill=PAPER, anchor="mm")
    name_font = fonts.bold_at(fit_size(poster.name, fonts, WIDTH - 2 * MARGIN, 84, 52))
    name = clip(wrap(poster.name, name_font, WIDTH - 2 * MARGIN), name_font, WIDTH, 1)
    draw.text((MARGIN, 240), name[0], font=name_font, fill=INK)
    if poster.nicknames:
        label = texts.joined("poster.label.nicknames")
        small = fonts.regular_at(34)
        line = clip(wrap(f"{label}: {poster.nicknames}", small, WIDTH - 2 * MARGIN), small, 1e9, 1)
        draw.text((MARGIN, 345), line[0], font=small, fill=GREY)


def _photo(
    image: Image.Image, draw: Draw, fonts: FontSet, texts: _Texts, photo: bytes | None
) -> None:
    left, top, right, bottom = PHOTO_BOX
    draw.rectangle(PHOTO_BOX, fill=(235, 235, 235))
    if photo is None:
        label = "\n".join(texts.lines("poster.no_photo"))
        centre = ((left + right) // 2, (top + bottom) // 2)
        draw.multiline_text(
            centre, label, font=fonts.regular_at(40), fill=GREY, anchor="mm", align="center"
        )
        return
    with Image.open(io.BytesIO(photo)) as opened:
        picture = ImageOps.contain(opened.convert("RGB"), (right - left, bottom - top))
    offset = (
        left + (right - left - picture.width) // 2,
        top + (bottom - top - picture.height) // 2,
    )
    image.paste(picture, offset)


def _facts(draw: Draw, fonts: FontSet, texts: _Texts, poster: PosterData) -> None:
    """Key facts beside the photo, then the description under both."""
    width = WIDTH - MARGIN - FACTS_LEFT
    y = PHOTO_BOX[1]
    for label, value in _fact_list(texts, poster):
        room = (PHOTO_BOX[3] + 60 - y - 42) // 50  # value lines that still fit
        if room < 1:
            break
        box = (FACTS_LEFT, y, width)
        y = _block(draw, fonts, box, texts.joined(label), value, most=min(room, 4))
    top = max(y, PHOTO_BOX[3] + 24)
    room = (QR_TOP - 30 - top - 42) // 50
    if poster.description and room >= 1:
        label = texts.joined("poster.label.description")
        box = (MARGIN, top, WIDTH - 2 * MARGIN)
        _block(draw, fonts, box, label, poster.description, most=min(room, 3))


def _block(
    draw: Draw, fonts: FontSet, box: tuple[int, int, int], label: str, value: str, *, most: int
) -> int:
    """A bold label over its wrapped value; returns the y below it."""
    left, y, width = box
    draw.text((left, y), label, font=fonts.bold_at(30), fill=RED)
    y += 42
    value_font = fonts.regular_at(38)
    for line in clip(wrap(value, value_font, width), value_font, width, most):
        draw.text((left, y), line, font=value_font, fill=INK)
        y += 50
    return y + 18


def _fact_list(texts: _Texts, poster: PosterData) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if poster.age_years is not None:
        facts.append(("poster.label.age", texts.joined("poster.age", years=poster.age_years)))
    if poster.sex in ("female", "male"):
        facts.append(("poster.label.sex", texts.joined(f"poster.sex.{poster.sex}")))
    seen = f"poster.label.seen_{poster.kind}"
    if poster.last_seen_at is not None:
        facts.append((seen, _when(poster.last_seen_at, poster.utc_offset)))
    if poster.last_seen_place:
        facts.append(("poster.label.place", poster.last_seen_place))
    if poster.marks:
        facts.append(("poster.label.marks", poster.marks))
    return facts


def _when(at: datetime, offset: timedelta | None) -> str:
    """A numeric date and time both languages read, at the place's UTC offset when known."""
    shift = offset or timedelta(0)
    hours, rest = divmod(int(shift.total_seconds()), 3600)
    zone = f"UTC{hours:+d}" + (f":{rest // 60:02d}" if rest else "") if shift else "UTC"
    return f"{(at + shift):%Y-%m-%d %H:%M} ({zone})"


def _qr(image: Image.Image, link: str) -> None:
    place = qr_placement(link)
    side = len(place.matrix) + 2 * place.border
    modules = Image.new("1", (side, side), 1)
    for y, row in enumerate(place.matrix):
        for x, dark in enumerate(row):
            if dark:
                modules.putpixel((x + place.border, y + place.border), 0)
    scaled = modules.resize((side * place.module,) * 2, Image.Resampling.NEAREST)
    image.paste(scaled.convert("RGB"), (place.left, place.top))


def _footer(draw: Draw, fonts: FontSet, texts: _Texts, poster: PosterData) -> None:
    left, width = MARGIN + QR_SIDE + 30, WIDTH - 2 * MARGIN - QR_SIDE - 30
    y = QR_TOP + 20

    def line(text: str, size: int, bold: bool, fill: tuple[int, int, int]) -> None:
        nonlocal y
        size = fit_size(text, fonts, width, size, 20, bold=bold)  # links stay on one line
        font = fonts.bold_at(size) if bold else fonts.regular_at(size)
        for part in clip(wrap(text, font, width), font, width, 2):
            draw.text((left, y), part, font=font, fill=fill)
            y += int(size * 1.3)

    for scan in texts.lines("poster.scan" if poster.bot_link else "poster.scan_web"):
        line(scan, 34, True, INK)
    if poster.bot_link:
        line(poster.bot_link, 28, False, GREY)
    y += 12
    for visit in texts.lines("poster.visit"):
        line(visit, 30, False, INK)
    line(poster.web_link, 30, True, INK)
    y += 12
    line(f"{texts.joined('poster.label.ref')}: {poster.ref}", 44, True, RED)
    draw.rectangle((0, WARNING_TOP, WIDTH, HEIGHT), fill=INK)
    warning_y = WARNING_TOP + 20
    for warning in texts.lines("poster.warning"):
        font = fonts.bold_at(30)
        for part in clip(wrap(warning, font, WIDTH - 2 * MARGIN), font, WIDTH, 2):
            draw.text((MARGIN, warning_y), part, font=font, fill=PAPER)
            warning_y += 40
