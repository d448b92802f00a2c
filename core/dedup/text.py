"""Near-copies of tip texts (copy-paste floods), in any script, with rapidfuzz's edit similarity.

Texts are normalised (NFKC, case-folded, punctuation and symbols dropped, whitespace collapsed, no
spaces between CJK characters) and compared with `fuzz.ratio`: the Indel similarity of the two
strings, 0..100. It works on characters, so Chinese needs no word segmentation, and it is robust
to the small edits a forwarded message picks up ("5pm" -> "around 5pm", "PLEASE SHARE").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

DEFAULT_THRESHOLD = 80.0
# Short texts ("seen him") are said independently by many people: they are never called copies.
MIN_WEIGHT = 30
CJK_WEIGHT = 3  # a CJK character carries about as much as a short word

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_GAP = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")


@dataclass(frozen=True, slots=True)
class TextMatch:
    """A candidate whose text is a near-copy, with its similarity (0..100)."""

    key: int
    similarity: float


def normalise_text(text: str) -> str:
    """Text as compared: NFKC, case-folded, no punctuation, single spaces, CJK run together."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in folded)
    return _CJK_GAP.sub("", " ".join(kept.split()))


def text_weight(normalised: str) -> int:
    """How much a normalised text says: its length, with CJK characters counted as words."""
    cjk = len(_CJK_CHAR.findall(normalised))
    return len(normalised) + (CJK_WEIGHT - 1) * cjk


def is_substantial(normalised: str) -> bool:
    """Whether a normalised text is long enough for a copy of it to mean anything."""
    return text_weight(normalised) >= MIN_WEIGHT


def similarity(a: str, b: str) -> float:
    """Edit similarity (0..100) of two raw texts after normalisation."""
    return float(fuzz.ratio(normalise_text(a), normalise_text(b)))


def near_copies(
    text: str, candidates: Mapping[int, str], *, threshold: float = DEFAULT_THRESHOLD
) -> list[TextMatch]:
    """Candidates (key -> raw text) that are near-copies of text, most similar first."""
    query = normalise_text(text)
    if not is_substantial(query):
        return []
    choices = {}
    for key, raw in candidates.items():
        normalised = normalise_text(raw)
        if is_substantial(normalised):
            choices[key] = normalised
    found = process.extract(query, choices, scorer=fuzz.ratio, score_cutoff=threshold, limit=None)
    matches = [TextMatch(key=int(key), similarity=float(score)) for _, score, key in found]
    return sorted(matches, key=lambda m: (-m.similarity, m.key))
