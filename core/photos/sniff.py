"""Recognise file types by their first bytes; names and declared MIME types never count."""

from __future__ import annotations

import importlib.util
from typing import Final

JPEG: Final = "jpeg"
PNG: Final = "png"
WEBP: Final = "webp"
HEIC: Final = "heic"

_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1"})

# Types we refuse, named so the sender learns what they actually sent.
_REFUSED_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"PK\x03\x04", "ZIP"),
    (b"PK\x05\x06", "ZIP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x1f\x8b", "GZIP"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7Z"),
)
_TEXT_MARKERS: Final[tuple[tuple[bytes, str], ...]] = (
    (b"<svg", "SVG"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
    (b"<script", "HTML"),
    (b"<?xml", "XML"),
)


def heic_supported() -> bool:
    """Whether the optional pillow-heif decoder is installed."""
    return importlib.util.find_spec("pillow_heif") is not None


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def sniff(data: bytes) -> str | None:
    """Return 'jpeg', 'png', 'webp' (or 'heic' when supported) from magic bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if _is_heif(data) and heic_supported():
        return HEIC
    return None


def describe_refused(data: bytes) -> str | None:
    """Name the type of a refused file ('PDF', 'GIF', …) for the sender, or None if unknown."""
    for magic, label in _REFUSED_MAGIC:
        if data.startswith(magic):
            return label
    if data[4:8] == b"ftyp":
        return "HEIC" if _is_heif(data) else "video or AVIF"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for marker, label in _TEXT_MARKERS:
        if marker in head:
            return "SVG" if b"<svg" in head else label
    return None
