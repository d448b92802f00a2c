"""Posters: A4 PNG and PDF, real Chinese glyphs, a QR code that is the bot link, a disk cache."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import segno
from PIL import Image, ImageDraw, ImageFont
from PIL.PdfParser import PdfParser

from core.cases.poster_files import bot_link, cached_poster, poster_languages, web_link
from core.cases.poster_layout import (
    DEFAULT_FONT,
    PosterFontMissing,
    face_index,
    font_set,
    resolve_font,
    text_width,
    wrap,
)
from core.cases.posters import HEIGHT, WIDTH, PosterData, qr_placement, render_poster
from core.i18n import catalog

IN_CI = bool(os.environ.get("CI"))
DOCS_SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "img" / "poster-sample.png"
A4_MM = (210, 297)


@pytest.fixture(scope="module")
def font() -> Path:
    """The CJK font (Debian's fonts-noto-cjk): required in CI, skipped locally without it."""
    if DEFAULT_FONT.is_file():
        return DEFAULT_FONT
    message = f"{DEFAULT_FONT} is missing (apt-get install fonts-noto-cjk)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _photo() -> bytes:
    image = Image.new("RGB", (480, 640), (196, 170, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((130, 110, 350, 400), fill=(236, 200, 172))
    draw.rectangle((90, 420, 390, 640), fill=(200, 30, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def sample_poster() -> PosterData:
    """A fictional child, on a bilingual poster (also the sample in docs/cases.md)."""
    return PosterData(
        ref="K7Q2-9XRA",
        kind="missing",
        name="Li Xiaoming 李小明",
        languages=("en", "zh-Hans"),
        bot_link=bot_link("tipline_example_bot", "K7Q2-9XRA"),
        web_link=web_link("https://tipline.example.org", "K7Q2-9XRA"),
        nicknames="Mingming 明明",
        age_years=6,
        sex="male",
        last_seen_at=datetime(2025, 3, 14, 8, 30, tzinfo=UTC),
        utc_offset=timedelta(hours=8),
        last_seen_place="Yanta District, Xi'an 西安市雁塔区",
        marks="Small scar above the left eyebrow; 左眉上方有一道小疤",
        description=(
            "Red jacket, blue trousers, white sneakers. Speaks Mandarin with a Shaanxi accent. "
            "穿红色外套、蓝色裤子、白色运动鞋，说带陕西口音的普通话。"
        ),
        photo=_photo(),
    )


def test_png_is_an_a4_page_at_150_dpi(font: Path) -> None:
    png, _ = render_poster(poster=sample_poster(), font_path=font)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1240, 1754)
    dpi = image.info["dpi"]
    millimetres = tuple(round(side / float(d) * 25.4) for side, d in zip(image.size, dpi))
    assert millimetres == A4_MM


def test_pdf_is_one_a4_page(font: Path) -> None:
    _, pdf = render_poster(poster=sample_poster(), font_path=font)
    assert pdf.startswith(b"%PDF-")
    parser = PdfParser(buf=pdf)
    assert len(parser.pages) == 1
    box = parser.read_indirect(parser.pages[0])[b"MediaBox"]
    millimetres = tuple(round(float(side) / 72 * 25.4) for side in box[2:])
    assert millimetres == A4_MM


def test_the_same_poster_renders_to_the_same_bytes(font: Path) -> None:
    assert render_poster(poster=sample_poster(), font_path=font) == render_poster(
        poster=sample_poster(), font_path=font
    )


def test_the_simplified_chinese_face_of_the_collection_is_used(font: Path) -> None:
    regular = font_set(font).regular_at(40)
    assert regular.getname()[0] == "Noto Sans CJK SC"
    assert face_index(font) == 2  # JP, KR, SC, ... in Debian's collection


def _glyph(face: ImageFont.FreeTypeFont, char: str) -> bytes:
    """The pixels of one character, to compare with the font's .notdef ("tofu") box."""
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((8, 8), char, font=face, fill=255)
    return image.tobytes()


def _chinese_characters() -> set[str]:
    texts = [text for key, text in catalog("zh-Hans").items() if key.startswith("poster.")]
    return {char for text in texts for char in text if ord(char) > 0x2E80}


def test_every_chinese_character_of_the_poster_has_a_real_glyph(font: Path) -> None:
    face = font_set(font).bold_at(40)
    tofu = _glyph(face, "\U0010fffd")  # not in the font: drawn as .notdef
    chars = _chinese_characters()
    assert len(chars) > 40
    boxes = sorted(char for char in chars if _glyph(face, char) == tofu)
    assert boxes == []


def test_the_tofu_check_catches_a_font_without_chinese(font: Path) -> None:
    latin_only = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin_only.is_file():
        pytest.skip("DejaVu Sans is not installed")
    face = font_set(latin_only).regular_at(40)
    tofu = _glyph(face, "\U0010fffd")
    assert _glyph(face, "寻") == tofu


def test_the_qr_code_drawn_is_segnos_code_for_the_bot_link(font: Path) -> None:
    poster = sample_poster()
    png, _ = render_poster(poster=poster, font_path=font)
    image = Image.open(io.BytesIO(png)).convert("L")
    code = segno.make(poster.bot_link, error="m", micro=False, boost_error=False)
    assert code.designator == "4-M" and code.mode == "byte"
    place = qr_placement(poster.bot_link)
    expected = [[bool(v) for v in row] for row in code.matrix]
    assert [list(row) for row in place.matrix] == expected
    drawn = [
        [
            image.getpixel(
                (
                    place.left + (place.border + x) * place.module + place.module // 2,
                    place.top + (place.border + y) * place.module + place.module // 2,
                )
            )
            < 128
            for x in range(len(expected))
        ]
        for y in range(len(expected))
    ]
    assert drawn == expected
    assert place.module >= 8  # ~1.4 mm per module at 150 dpi: scannable from a phone


def test_a_found_person_poster_differs_from_a_missing_one(font: Path) -> None:
    missing = sample_poster()
    found = replace(missing, kind="found")
    assert (
        render_poster(poster=found, font_path=font)[0]
        != render_poster(poster=missing, font_path=font)[0]
    )


def test_a_poster_without_photo_or_facts_still_renders(font: Path) -> None:
    bare = PosterData(
        ref="AAAA-BBBB",
        kind="missing",
        name="X" * 300,
        languages=("en",),
        bot_link=bot_link("b", "AAAA-BBBB"),
        web_link=web_link("http://localhost:8080/", "AAAA-BBBB"),
        description="word " * 400,
    )
    png, pdf = render_poster(poster=bare, font_path=font)
    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT) and pdf.startswith(b"%PDF")


def test_chinese_wraps_between_characters_and_english_between_words(font: Path) -> None:
    face = font_set(font).regular_at(38)
    chinese = "穿红色外套、蓝色裤子、白色运动鞋，说带陕西口音的普通话。"
    lines = wrap(chinese, face, 300)
    assert len(lines) > 1 and "".join(lines) == chinese
    assert all(text_width(face, line) <= 300 for line in lines)
    assert not any(line.startswith(("、", "，", "。")) for line in lines)
    english = wrap("Red jacket, blue trousers, white sneakers", face, 300)
    assert " ".join(english) == "Red jacket, blue trousers, white sneakers"
    assert wrap("x" * 200, face, 300) and all(
        text_width(face, line) <= 300 for line in wrap("x" * 200, face, 300)
    )


@pytest.mark.parametrize(
    ("languages", "dialect", "in_china", "expected"),
    [
        ("", "", False, ("en",)),
        ("English, Spanish", "", False, ("en",)),
        ("Mandarin", "", False, ("en", "zh-Hans")),
        ("English", "粤语", False, ("en", "zh-Hans")),
        ("English", "", True, ("en", "zh-Hans")),
    ],
)
def test_posters_are_bilingual_in_china_or_for_chinese_speakers(
    languages: str, dialect: str, in_china: bool, expected: tuple[str, ...]
) -> None:
    assert poster_languages(languages=languages, dialect=dialect, in_china=in_china) == expected


def test_a_missing_font_is_refused_with_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(PosterFontMissing, match="fonts-noto-cjk"):
        resolve_font(tmp_path / "nope.ttc")


def test_posters_are_cached_per_version_and_old_versions_removed(
    font: Path, tmp_path: Path
) -> None:
    poster = sample_poster()
    first = cached_poster(directory=tmp_path, poster=poster, version=1, font_path=font)
    stamp = first.png.stat().st_mtime_ns
    again = cached_poster(directory=tmp_path, poster=poster, version=1, font_path=font)
    assert again == first and first.png.stat().st_mtime_ns == stamp
    edited = cached_poster(
        directory=tmp_path, poster=replace(poster, marks="none"), version=2, font_path=font
    )
    assert edited.png != first.png
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([edited.png.name, edited.pdf.name])


def test_the_sample_poster_in_the_docs_is_an_a4_png(font: Path) -> None:
    if os.environ.get("TIPLINE_WRITE_DOCS"):
        DOCS_SAMPLE.write_bytes(render_poster(poster=sample_poster(), font_path=font)[0])
    image = Image.open(DOCS_SAMPLE)
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
