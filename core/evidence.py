"""Turning a processed photo into evidence fields on its row (GPS kept, never passed on)."""

from __future__ import annotations

from core.photos import ProcessedPhoto
from storage.models import TipPhoto

MAX_SIGNED_64 = 2**63


def signed64(value: int) -> int:
    """A 64-bit unsigned hash as the signed BIGINT both databases store."""
    return value - 2**64 if value >= MAX_SIGNED_64 else value


def apply_processed(row: TipPhoto, photo: ProcessedPhoto, *, display: str, thumb: str) -> None:
    """Record a sanitised photo's evidence and the addresses of its clean copies."""
    evidence = photo.evidence
    row.status = "processed"
    row.original_sha256 = photo.sha256
    row.display_sha256 = display
    row.thumb_sha256 = thumb
    row.phash = signed64(photo.phash)
    row.size_bytes = photo.size_bytes
    row.mime_type = f"image/{photo.kind}"
    row.exif_lat = evidence.gps_lat
    row.exif_lon = evidence.gps_lon
    captured = evidence.captured_at
    if captured is not None and captured.tzinfo is not None:
        row.exif_taken_at = captured
    elif captured is not None:
        row.exif_local_time = captured.isoformat(timespec="seconds")
    camera = " ".join(p for p in (evidence.camera_make, evidence.camera_model) if p)
    row.camera = camera[:200] or None
    row.reject_reason = None
