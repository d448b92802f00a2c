"""Name keys (core/cases/name_keys.py): every pair of names one typo apart, or one inside the
other, or with the same Chinese core, shares a key, so duplicate matching reads it; unalike names
share none of the close keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.cases.match_scoring import SAME_NAME, best_name, profile
from core.cases.name_keys import name_keys

NAMES = ["lily chen", "wei wang", "christopher lee", "maria jose garcia", "abdulrahmanovich"]


def _profile(name: str):
    fields = dict.fromkeys(("birth_date", "age_years", "last_seen_at", "sex"))
    fields |= dict.fromkeys(("last_seen_lat", "last_seen_lon"))
    return profile(
        SimpleNamespace(id=0, kind="found", full_name=name, nicknames="", marks="", **fields)
    )


def _typos(name: str):
    for i in range(len(name)):
        yield name[:i] + name[i + 1 :]  # a letter dropped
        yield name[:i] + "x" + name[i + 1 :]  # changed
        yield name[:i] + "x" + name[i:]  # inserted


@pytest.mark.parametrize("name", NAMES)
def test_every_name_one_typo_away_that_scores_as_the_same_name_shares_a_key(name):
    keys = name_keys(name, "").all
    for typo in _typos(name):
        alike = best_name(_profile(name), _profile(typo))
        if alike is not None and alike[0] >= SAME_NAME:
            assert keys & name_keys(typo, "").all, typo


@pytest.mark.parametrize(
    ("a", "b"),
    [("lily", "lily chen"), ("王小明", "小明"), ("明明", "阿明"), ("Chen Lily", "lily chen")],
)
def test_a_name_inside_another_or_the_same_chinese_core_shares_a_key(a, b):
    assert best_name(_profile(a), _profile(b))[0] >= SAME_NAME
    assert name_keys(a, "").all & name_keys(b, "").all


def test_nicknames_are_keyed_too():
    assert name_keys("Wang Xiaoming", "Mimi").all & name_keys("mimi", "").all


def test_unalike_names_share_no_close_key():
    assert not name_keys("lily chen", "").close & name_keys("wei chen", "").close
    assert not name_keys("lily chen", "").all & name_keys("wei wang", "").all
