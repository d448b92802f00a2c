"""A photo's caption in the bot ("age 3", "3岁半") read as the age in the photo."""

from __future__ import annotations

import pytest

from core.cases.photo_ages import age_from_note


@pytest.mark.parametrize(
    ("note", "months"),
    [
        ("age 3", 36),
        ("3", 36),
        ("Aged 5 years old", 60),
        ("3 years 6 months", 42),
        ("18 months", 18),
        ("3岁", 36),
        ("3岁半", 42),
        ("1岁6个月", 18),
        ("18个月", 18),
    ],
)
def test_a_caption_with_an_age_gives_the_months(note, months):
    assert age_from_note(note) == months


@pytest.mark.parametrize("note", ["", "baby", "2019", "at school", "999 years"])
def test_a_caption_without_an_age_leaves_it_unknown(note):
    assert age_from_note(note) is None
