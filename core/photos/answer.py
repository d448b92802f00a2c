"""Read the decoder's answer in the parent, trusting no value or type the child claims."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from core.photos import errors
from core.photos.errors import PhotoRejected
from core.photos.models import ExifEvidence, ProcessedPhoto

log = logging.getLogger(__name__)
_REASONS = frozenset({errors.TOO_LARGE, errors.TIMEOUT, errors.DAMAGED, errors.CRASHED})


def _evidence(raw: Any) -> ExifEvidence:
    """Rebuild evidence from the child's header, trusting no type it claims."""
    raw = raw if isinstance(raw, dict) else {}

    def num(key: str) -> float | None:
        value = raw.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    def text(key: str) -> str | None:
        value = raw.get(key)
        return value[:64] if isinstance(value, str) else None

    captured = None
    if stamp := text("captured_at"):
        try:
            captured = datetime.fromisoformat(stamp)
        except ValueError:
            captured = None
    lat, lon = num("gps_lat"), num("gps_lon")
    has_gps = lat is not None and lon is not None
    orientation = raw.get("orientation")
    return ExifEvidence(
        gps_lat=lat if has_gps else None,
        gps_lon=lon if has_gps else None,
        captured_at=captured,
        camera_make=text("camera_make"),
        camera_model=text("camera_model"),
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
    )


def _size(value: Any) -> tuple[int, int]:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    raise PhotoRejected(errors.CRASHED)


def _is_jpeg(blob: bytes) -> bool:
    return blob.startswith(b"\xff\xd8\xff") and blob.endswith(b"\xff\xd9")


def read_answer(
    data: bytes, header: dict[str, Any], blobs: list[bytes], *, kind: str
) -> ProcessedPhoto:
    """Turn a response frame into a ProcessedPhoto, or raise the rejection it carries."""
    if header.get("ok") is not True:
        reason = header.get("reason")
        code = reason if isinstance(reason, str) and reason in _REASONS else errors.CRASHED
        log.info("photo rejected by decoder: %s (%.64r)", code, header.get("detail"))
        raise PhotoRejected(code)
    if len(blobs) != 2 or not all(_is_jpeg(blob) for blob in blobs):
        raise PhotoRejected(errors.CRASHED)  # whatever we serve later must be our own JPEG
    try:
        display_w, display_h = _size(header.get("display_size"))
        thumb_w, thumb_h = _size(header.get("thumb_size"))
        return ProcessedPhoto(
            kind=kind,
            width=int(header["width"]),
            height=int(header["height"]),
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            evidence=_evidence(header.get("evidence")),
            display=blobs[0],
            display_width=display_w,
            display_height=display_h,
            thumbnail=blobs[1],
            thumb_width=thumb_w,
            thumb_height=thumb_h,
            phash=int(header["phash"]) & 0xFFFF_FFFF_FFFF_FFFF,
            decoder_peak_rss_kib=int(header.get("peak_rss_kib", 0)),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PhotoRejected(errors.CRASHED) from exc
