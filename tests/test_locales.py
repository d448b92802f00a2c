"""Translations: English and Simplified Chinese have the same keys and placeholders, and every
key the bot and the web form use exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

from core.i18n import SUPPORTED, Texts, catalog, placeholders
from core.tips.drafts import SeenOutcome
from core.tips.submission import PUBLIC_STATUS

ROOT = Path(__file__).resolve().parent.parent
CALL = re.compile(r"""\b(?:texts|t|Texts\([^)]*\))\(\s*["']([a-z][\w.-]*)["']""")
# Keys handlers pass around before rendering them (skip="button.skip", "input.too_big").
HANDLER_KEY = re.compile(
    r"^(?:about|add|alerts|answer|button|case|cases|forget|help|input|language|limits|menu|newcase|note"
    r"|poster|report|start|status|volunteer"
    r"|summary)\.[a-z_.]+$"
)


def _sources(folder: str, *patterns: str) -> list[Path]:
    base = ROOT / folder
    return sorted(path for pattern in patterns for path in base.rglob(pattern))


def used_keys() -> dict[str, set[str]]:
    """Keys in texts("…") / t("…") calls in handlers/ and web/ (Python and templates)."""
    found: dict[str, set[str]] = {}
    for path in _sources("handlers", "*.py") + _sources("web", "*.py", "*.html"):
        for key in CALL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return found


def handler_literals() -> set[str]:
    """String constants in handlers/ that look like text keys."""
    keys = set()
    for path in _sources("handlers", "*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Parts of f-strings (f"status.{status}") are checked in test_keys_built_at_run_time_exist.
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in parts and HANDLER_KEY.match(node.value):
                    keys.add(node.value)
    return keys


def test_every_language_has_exactly_the_english_keys():
    english = set(catalog("en"))
    for language in SUPPORTED:
        theirs = set(catalog(language))
        assert sorted(english - theirs) == [], f"missing in {language}"
        assert sorted(theirs - english) == [], f"only in {language}"


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED if lang != "en"])
def test_placeholders_match_english(language):
    english, theirs = catalog("en"), catalog(language)
    wrong = {
        key: (placeholders(english[key]), placeholders(theirs[key]))
        for key in english.keys() & theirs.keys()
        if placeholders(english[key]) != placeholders(theirs[key])
    }
    assert wrong == {}


def test_no_translation_is_empty_or_left_in_english_by_mistake():
    english, chinese = catalog("en"), catalog("zh-Hans")
    same = sorted(
        key
        for key in english.keys() & chinese.keys()
        if english[key] == chinese[key] and re.search(r"[a-z]{4}", english[key])
    )
    # Language names are written in their own language in both.
    assert [key for key in same if not key.startswith(("language.", "web.lang."))] == []


def test_every_key_the_bot_and_the_web_form_use_exists():
    english = catalog("en")
    keys = used_keys()
    assert len(keys) > 50  # the grep found the calls (it fails if the call style changes)
    missing = {}
    for key, files in keys.items():
        if key.endswith("."):  # a prefix completed at run time: t("web.status." + status)
            exists = any(k.startswith(key) for k in english)
        else:
            exists = key in english
        if not exists:
            missing[key] = sorted(files)
    assert missing == {}


def test_keys_handlers_pass_around_exist():
    literals = handler_literals()
    assert {"button.skip", "input.too_big", "input.unsupported"} <= literals
    assert sorted(literals - set(catalog("en"))) == []


def test_keys_built_at_run_time_exist():
    english = catalog("en")
    outcomes = [o for o in get_args(SeenOutcome) if o != "ok"]
    built = [f"report.when_{o}" for o in outcomes]
    built += [f"status.{status}" for status in set(PUBLIC_STATUS.values())]
    assert [key for key in built if key not in english] == []


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_text_formats_with_its_placeholders(language):
    texts = Texts(language)
    for key, template in catalog(language).items():
        values = {name: "x" for name in placeholders(template)}
        assert texts(key, **values)


def test_every_variant_varies_a_text_that_exists_and_is_read_in_its_place():
    english = catalog("en")
    variants = [key for key in english if "@" in key]
    assert variants and all(key.split("@")[0] in english for key in variants)
    chat = Texts("en", "chat")
    assert chat("report.sent", ref="K7") == english["report.sent@chat"].format(ref="K7")
    assert chat("report.ask_when") == Texts("en")("report.ask_when")
    sms = Texts("en", "sms")  # its own texts, then the chat variant's, then the key's
    assert sms("report.ask_where") == english["report.ask_where@sms"]
    assert sms("report.sent", ref="K7") == chat("report.sent", ref="K7")
    assert sms("report.ask_when") == Texts("en")("report.ask_when")
