"""Child-side work: decode untrusted bytes and re-encode clean copies from pixels alone.

Runs only inside the resource-limited decoder child (see zygote.py), never in a service process.
"""

from __future__ import annotations

import io
import math
from typing import Any, Final

import imagehash
from PIL import Image

from core.photos.exif import read_evidence

_PIL_FORMAT: Final = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Accept a display copy down to 90% of the cap when that lets JPEG decode at 1/2, 1/4 or 1/8
# scale: a 4032 px phone photo decodes straight to 2016 px instead of 4032 then resizing.
_DRAFT_SLACK: Final = 0.9
_JPEG_QUALITY: Final = 85
_WHITE: Final = (255, 255, 255)


def draft_request(size: tuple[int, int], max_display: int) -> tuple[int, int] | None:
    """Size to pass to Image.draft so the decoded long side stays ≥ 90% of max_display."""
    width, height = size
    floor = math.ceil(max_display * _DRAFT_SLACK)
    for scale in (8, 4, 2):
        if max(width, height) >= floor * scale:
            # draft() picks the largest power of two ≤ min(w // rw, h // rh), so asking for
            # w // scale keeps that ratio ≥ scale (and < 2 * scale) on both sides.
            return max(1, width // scale), max(1, height // scale)
    return None


def _to_workable(image: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, LA, RGB or RGBA so resampling is meaningful."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """Composite transparency onto white; JPEG has no alpha."""
    if image.mode not in ("LA", "RGBA"):
        return image
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _clean_jpeg(image: Image.Image) -> bytes:
    """Encode pixels only: no exif, icc, xmp or comment may ride along from the source file."""
    # Pillow's JPEG writer copies info["comment"] from the image by default (a COM segment
    # polyglot would survive), so the image must be a plain Image whose info we own and empty.
    plain = image.copy() if type(image) is not Image.Image else image
    plain.info = {}
    buffer = io.BytesIO()
    plain.save(buffer, "JPEG", quality=_JPEG_QUALITY, exif=b"", icc_profile=None)
    return buffer.getvalue()


def _fit(
    image: Image.Image, cap: int, *, resample: Image.Resampling, reducing_gap: float
) -> Image.Image:
    """A resized copy no larger than cap on either side (the image itself if already small)."""
    width, height = image.size
    if max(width, height) <= cap:
        return image
    scale = cap / max(width, height)
    size = (max(1, min(cap, round(width * scale))), max(1, min(cap, round(height * scale))))
    # resize() straight from the source: no full-size copy, which matters under RLIMIT_AS.
    return image.resize(size, resample, reducing_gap=reducing_gap)


def render(
    data: bytes, *, kind: str, max_display: int, max_thumb: int
) -> tuple[dict[str, Any], bytes, bytes]:
    """Decode, orient, shrink and re-encode; returns (header, display JPEG, thumbnail JPEG)."""
    with Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[kind]]) as opened:
        width, height = opened.size
        if kind == "jpeg" and (request := draft_request(opened.size, max_display)):
            opened.draft(opened.mode, request)
        opened.load()
        evidence = read_evidence(opened)
        # Bicubic: after draft the display step is usually a mild one, where Lanczos costs
        # a third more and shows no difference.
        display = _fit(
            _to_workable(opened), max_display, resample=Image.Resampling.BICUBIC, reducing_gap=2.0
        )
    if (method := _TRANSPOSE.get(evidence.get("orientation", 1))) is not None:
        display = display.transpose(method)
    display = _flatten(display)
    # A box reduce, then Lanczos over the last factor < 2: a third of the cost, fine at 512 px.
    thumb = _fit(display, max_thumb, resample=Image.Resampling.LANCZOS, reducing_gap=1.0)
    header = {
        "kind": kind,
        "width": width,
        "height": height,
        "evidence": evidence,
        "display_size": list(display.size),
        "thumb_size": list(thumb.size),
        "phash": int(str(imagehash.phash(thumb)), 16),
    }
    return header, _clean_jpeg(display), _clean_jpeg(thumb)
