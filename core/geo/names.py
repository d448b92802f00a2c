"""Place-name normalisation and query splitting, shared by the index builder and the search."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

MAX_QUERY_CHARS = 256
"""Longer input is not a place name (a pasted message, an attack): it finds nothing."""

MAX_PARTS = 6
_MAX_SPLIT_TOKENS = 24

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "đ": "d", "ł": "l", "ı": "i", "þ": "th", "œ": "oe", "ð": "d", "ħ": "h"}
)
_ASCII_DROP = bytes(c for c in range(128) if not chr(c).isalnum())
_NOT_ALNUM = re.compile(r"[\W_]+")
_PART_SEPARATORS = re.compile(r"[,，、;；\n\r\t|/]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# Generic words people add to a name ("Xi'an City", "陕西省"); tried only when the name alone fails.
_GENERIC_SUFFIXES = tuple(
    sorted(
        (
            "city",
            "province",
            "provincia",
            "prefecture",
            "region",
            "state",
            "oblast",
            "county",
            "district",
            "municipality",
            "sheng",
            "shi",
            "自治区",
            "自治區",
            "特别行政区",
            "省",
            "市",
            "县",
            "縣",
            "区",
            "區",
            "镇",
        ),
        key=len,
        reverse=True,
    )
)


def normalise(text: str) -> str:
    """Fold a name to its index key: no case, accents, apostrophes, hyphens, spaces or symbols."""
    if text.isascii():
        return text.lower().encode("ascii").translate(None, _ASCII_DROP).decode("ascii")
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_FOLD)
    # Combining marks (accents) and punctuation of every script are not alphanumeric.
    return _NOT_ALNUM.sub("", folded)


def split_parts(query: str) -> list[str]:
    """Split "street, city, region, country" into its comma-separated parts, outermost last."""
    parts = [part.strip() for part in _PART_SEPARATORS.split(query)]
    return [part for part in parts if part][:MAX_PARTS]


def without_generic_suffix(key: str) -> str | None:
    """Return the key without a generic suffix like "city" or "省", or None if it has none."""
    for suffix in _GENERIC_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return None


def key_splits(part: str) -> Iterator[tuple[str, str]]:
    """Yield (left, right) halves of a part cut between words, or between characters in CJK."""
    tokens: list[str] = []
    for word in part.split():
        key = normalise(word)
        tokens.extend(key if _CJK.search(key) else [key] if key else [])
    if len(tokens) > _MAX_SPLIT_TOKENS:
        return
    for cut in range(1, len(tokens)):
        yield " ".join(tokens[:cut]), " ".join(tokens[cut:])
