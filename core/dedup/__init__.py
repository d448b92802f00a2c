"""Near-duplicate detection: photos by perceptual hash, texts by edit similarity."""

from core.dedup.phash import HashMatch, PhashIndex, hamming, to_unsigned
from core.dedup.text import TextMatch, is_substantial, near_copies, normalise_text, similarity

__all__ = [
    "HashMatch",
    "PhashIndex",
    "TextMatch",
    "hamming",
    "is_substantial",
    "near_copies",
    "normalise_text",
    "similarity",
    "to_unsigned",
]
