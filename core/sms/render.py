"""A question and its buttons as one plain text: numbered choices that fit a few segments.

Buttons are rows of (label, data), as a flow's keyboard or a notice has them. They become
"1 Now", "2 Earlier today"..., the back button "0 Back", with a line saying how to answer;
the numbers and the data they stand for are kept (core/sms/menus.py) so that a reply "2"
becomes that button's press. A reply is kept within MAX_SEGMENTS: three concatenated parts
are reassembled by practically every phone, feature phones included, and hold 459 GSM-7
characters (a question with ten choices) or 201 in UCS-2. When a text is too long the question
is cut first (at a word, down to QUESTION_MIN characters), then each choice's label; a choice
is never dropped or left without its number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from core.i18n import Texts
from core.sms.segments import is_gsm7, plain, size

MAX_SEGMENTS = 3
QUESTION_MIN = 40
LABEL_CAPS = (None, 24, 12)
BACK = "0"
_NUMBER = re.compile(r"[0-9]{1,2}")
Buttons = Sequence[Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Menu:
    """The text to send, and what each number stands for (empty without buttons)."""

    body: str
    choices: dict[str, str]


def render(texts: Texts, question: str, buttons: Buttons = ()) -> Menu:
    """The question with its buttons as numbered choices, fitted to MAX_SEGMENTS."""
    question = plain(question)
    numbered = _numbered(buttons)
    if not numbered:
        return Menu(_fit(question, []), {})
    lines = [texts("sms.reply_back" if BACK in numbered else "sms.reply")]
    for cap in LABEL_CAPS:
        lines[:-1] = [f"{n} {_cut(label, cap)}" for n, (label, _) in numbered.items()]
        body = _fit(question, lines)
        if _fits(body):
            break
    return Menu(body, {n: data for n, (_, data) in numbered.items()})


def pages(texts: Texts, question: str, buttons: Buttons = ()) -> tuple[list[str], Menu]:
    """Like `render`, but the lines of a question too long to fit whole with its choices go
    ahead in texts of their own (each within MAX_SEGMENTS), so nothing a person must check
    is cut (a case's summary); the last lines stay with the menu."""
    lines = plain(question).split("\n")
    tail = len(lines) - 1
    while tail > 0 and _whole(texts, "\n".join(lines[tail - 1 :]), buttons):
        tail -= 1
    return _packed(lines[:tail]), render(texts, "\n".join(lines[tail:]), buttons)


def _whole(texts: Texts, question: str, buttons: Buttons) -> bool:
    body = render(texts, question, buttons).body
    return body == question or body.startswith(question + "\n")


def _packed(lines: list[str]) -> list[str]:
    """The lines joined into as few texts as fit MAX_SEGMENTS each (a longer line is cut)."""
    texts: list[str] = []
    for line in lines:
        joined = f"{texts[-1]}\n{line}" if texts else line
        if texts and _fits(joined):
            texts[-1] = joined
        else:
            texts.append(_fit(line, []))
    return [plain(text.strip("\n")) for text in texts if text.strip()]


def choice(reply: str, choices: dict[str, str]) -> str | None:
    """The data of the button a reply names ("2", " 2 ", a full-width "２"), or None when the
    reply is no number on the menu (then it is text: a place, a time, a description)."""
    number = unicodedata.normalize("NFKC", reply).strip().rstrip(".)")
    if _NUMBER.fullmatch(number) is None:
        return None
    return choices.get(str(int(number)))


def _numbered(buttons: Buttons) -> dict[str, tuple[str, str]]:
    """Number -> (label, data), row by row: 1, 2, 3...; a back button is 0 and comes last."""
    numbered: dict[str, tuple[str, str]] = {}
    back = None
    for row in buttons:
        for label, data in row:
            shown = plain(label.strip("‹› "))
            if data.endswith(":back"):
                back = (shown, data)
            else:
                numbered[str(len(numbered) + 1)] = (shown, data)
    if back is not None:
        numbered[BACK] = back
    return numbered


def _fits(body: str) -> bool:
    return size(body).segments <= MAX_SEGMENTS


def _fit(question: str, lines: list[str]) -> str:
    """The question and the lines under it, with the question cut (to no less than
    QUESTION_MIN) until the whole text fits, or at its shortest."""

    def compose(cut_question: str) -> str:
        return "\n".join([cut_question, *lines])

    body = compose(question)
    if _fits(body) or len(question) <= QUESTION_MIN:
        return body
    low, high = QUESTION_MIN, len(question) - 1  # the longest cut that fits, by bisection
    best = compose(_cut(question, low))
    while low <= high:
        middle = (low + high) // 2
        candidate = compose(_cut(question, middle))
        if _fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _cut(text: str, limit: int | None) -> str:
    """The text in at most `limit` characters, cut at a word where there is one, ending with
    an ellipsis ("..." in a GSM-7 text, where "…" would make it all UCS-2)."""
    if limit is None or len(text) <= limit:
        return text
    ellipsis = "..." if is_gsm7(text) else "…"
    head = text[: limit - len(ellipsis)]
    space = head.rfind(" ")
    if space > len(head) // 2:
        head = head[:space]
    return head.rstrip() + ellipsis
