"""How /newcase reads typed answers: birth dates and ages, texts that must fit, languages."""

from __future__ import annotations

from datetime import date

import pytest

from core.cases.answers import check_text, read_born, split_languages
from core.cases.registry import LIMITS, MAX_AGE

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2019-05-04", ("ok", date(2019, 5, 4), None)),
        ("2019年5月4日", ("ok", date(2019, 5, 4), None)),
        ("2019 / 5 / 4", ("ok", date(2019, 5, 4), None)),
        ("5", ("ok", None, 5)),
        ("5岁", ("ok", None, 5)),
        ("7 years old", ("ok", None, 7)),
        ("2019-02-30", ("impossible", None, None)),
        ("2027-01-01", ("future", None, None)),
        ("1899-01-01", ("too_old", None, None)),
        (str(MAX_AGE + 1), ("too_old", None, None)),
        ("last spring", ("unreadable", None, None)),
    ],
)
def test_a_birth_date_or_an_age_is_read_or_refused_with_its_reason(typed, expected):
    assert read_born(typed, today=TODAY) == expected


def test_a_text_must_not_be_empty_must_fit_its_column_and_a_name_must_have_letters():
    assert check_text("Li Wei", "full_name", name=True) == "ok"
    assert check_text("   ", "full_name", name=True) == "empty"
    assert check_text("x" * (LIMITS["marks"] + 1), "marks") == "too_long"
    assert check_text("12345", "full_name", name=True) == "no_letters"
    assert check_text("12345", "police_ref") == "ok"


def test_languages_and_a_dialect_are_split_at_the_first_semicolon():
    assert split_languages("Mandarin, Cantonese; Sichuan dialect") == (
        "Mandarin, Cantonese",
        "Sichuan dialect",
    )
    assert split_languages("普通话；四川话") == ("普通话", "四川话")
    assert split_languages("English") == ("English", "")
