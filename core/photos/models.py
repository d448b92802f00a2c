"""Plain values that cross the boundary between the decoder child and the rest of Tipline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    """Resource ceilings for decoding one untrusted photo."""

    cpu_seconds: int = 2
    memory_bytes: int = 512 * MIB
    wall_seconds: float = 6.0
    max_pixels: int = 50_000_000
    max_input_bytes: int = 50 * MIB


DEFAULT_LIMITS = PhotoLimits()


@dataclass(frozen=True, slots=True)
class ExifEvidence:
    """What the photo's EXIF says. Evidence for moderators and police, never passed on."""

    gps_lat: float | None = field(default=None, repr=False)
    gps_lon: float | None = field(default=None, repr=False)
    # The camera's own clock; timezone-aware only when the photo recorded its UTC offset.
    captured_at: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    orientation: int = 1

    @property
    def has_gps(self) -> bool:
        """Whether a usable GPS position was recorded."""
        return self.gps_lat is not None and self.gps_lon is not None


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """An untrusted photo, measured and re-encoded from pixels with no metadata."""

    kind: str
    width: int
    height: int
    sha256: str
    size_bytes: int
    evidence: ExifEvidence
    display: bytes = field(repr=False)
    display_width: int
    display_height: int
    thumbnail: bytes = field(repr=False)
    thumb_width: int
    thumb_height: int
    phash: int
    decoder_peak_rss_kib: int = 0
