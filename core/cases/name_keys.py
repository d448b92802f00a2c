"""Blocking keys for duplicate matching: which records could share a name (pure logic).

A duplicate needs names at least SAME_NAME (90) alike (core/cases/match_scoring.py). Two names
score that only when one of these holds, so each has keys, and only records sharing a key with
a case are read as its possible duplicates:
- close keys, shared by few records:
  - the spelling one character apart ("lily cheng" / "lily chen"): the name and the name with
    any one character left out (its deletion neighbourhood; a change is a deletion on each side);
  - the same Chinese given-name core (王小明 / 小明 / 明明);
- word keys, shared by many (every "chen"): one whole word in common. Two names 90% alike keep at
  least one word intact unless every word has a typo, and one name's words inside the other's
  ("lily" in "lily chen", scored 90) share a word by definition.
Matching reads records sharing a close key first, then records sharing a word, each up to a cap
(core/cases/matching.py), so a common surname on a busy day cannot make one case read thousands.
Missed by name (a shared face still finds them): two typos in a one-word name, a typo in every
word of a long name, or two words run together. Pairs one typo apart are all found (tested).
Keys are short hashes, so their length never depends on a name's.
"""

from __future__ import annotations

import hashlib
from typing import Final, NamedTuple

from core.cases.match_scoring import name_variants

MAX_DELETIONS: Final = 40  # a longer name (a sentence pasted in) is keyed on its first 40


class NameKeys(NamedTuple):
    """A case's name keys: close (few records share one) and by word (many may)."""

    close: frozenset[str]
    words: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        """Every key, as stored."""
        return self.close | self.words


def _hash(kind: str, value: str) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).hexdigest()


def name_keys(full_name: str, nicknames: str) -> NameKeys:
    """The keys of a case's names (its full name and nicknames)."""
    close: set[str] = set()
    words: set[str] = set()
    for name in name_variants(full_name, nicknames):
        text = name.text[:MAX_DELETIONS]
        close.add(_hash("del", text))
        close.update(_hash("del", text[:i] + text[i + 1 :]) for i in range(len(text)))
        if name.core:
            close.add(_hash("core", name.core))
        words.update(_hash("word", word) for word in name.text.split())
    return NameKeys(close=frozenset(close), words=frozenset(words))
