"""Segment counting: GSM-7 160 / 153 per part with its extension table counting double, UCS-2
70 / 67 per part with characters outside the BMP counting two, nothing split between parts."""

from __future__ import annotations

import pytest

from core.sms.segments import is_gsm7, plain, size


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("", 1)],
)
def test_gsm7_holds_160_in_one_segment_and_153_per_part(text, segments):
    assert (size(text).encoding, size(text).segments) == ("GSM-7", segments)


def test_extension_characters_count_double():
    assert size("€" * 80).units == 160
    assert size("€" * 80).segments == 1
    assert size("€" * 81).segments == 2
    assert size("{[~]}|^\\").units == 16


def test_an_extension_character_is_never_split_between_parts():
    # 152 + 2 + 152 = 306 septets would be two parts of 153, but the euro cannot straddle them.
    assert size("a" * 152 + "€" + "a" * 152).segments == 3


@pytest.mark.parametrize(
    ("text", "segments"), [("你" * 70, 1), ("你" * 71, 2), ("你" * 134, 2), ("你" * 135, 3)]
)
def test_ucs2_holds_70_in_one_segment_and_67_per_part(text, segments):
    assert (size(text).encoding, size(text).segments) == ("UCS-2", segments)


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2():
    text = "a" * 69 + "ç"  # Ç is in GSM-7, ç is not
    assert (size(text).encoding, size(text).segments) == ("UCS-2", 1)
    assert size(text + "a").segments == 2


def test_emoji_outside_the_bmp_count_two_and_are_never_split():
    assert size("😀" * 35).units == 70
    assert size("😀" * 35).segments == 1
    assert size("😀" * 36).segments == 2
    # 66 units, then a pair that would straddle the 67-unit boundary: it starts part two.
    assert size("a" * 66 + "😀" + "a" * 66).segments == 3


def test_curly_quotes_and_ellipses_are_made_plain_only_when_that_makes_the_text_gsm7():
    assert plain("It’s “near” the station…") == 'It\'s "near" the station...'
    assert is_gsm7(plain("It’s near"))
    assert plain("她在“人民广场”…") == "她在“人民广场”…"
