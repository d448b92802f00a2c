"""Public references: short, random, unambiguous when read aloud or typed on a phone."""

from __future__ import annotations

import secrets

# Crockford-style alphabet without I, L, O, U, 0 and 1, which are misread.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ref(groups: int = 2, size: int = 4) -> str:
    """A random reference like K7Q2-9XRA (about 39 bits for the default shape)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def normalise_ref(text: str) -> str:
    """Upper-case a typed reference and restore its dash (`k7q29xra` -> `K7Q2-9XRA`)."""
    cleaned = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())
    if len(cleaned) == 8:
        return f"{cleaned[:4]}-{cleaned[4:]}"
    return cleaned
