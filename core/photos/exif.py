"""Read evidence (GPS, capture time, camera, orientation) from an image's EXIF, defensively."""

from __future__ import annotations

import math
import re
from typing import Any

from PIL import ExifTags, Image

_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_STATUS = 1, 2, 3, 4, 9
_DATETIME = 306
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_MAX_TEXT = 64
_EXIF_TIME = re.compile(r"(\d{4}):(\d\d):(\d\d)[ T](\d\d):(\d\d):(\d\d)")
_OFFSET = re.compile(r"[+-]\d\d:\d\d")


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned[:_MAX_TEXT] or None


def _degrees(value: Any) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    total = d + m / 60 + s / 3600
    return total if math.isfinite(total) else None


def _gps(gps: dict[int, Any]) -> tuple[float, float] | None:
    if _text(gps.get(_GPS_STATUS)) == "V":  # the receiver itself says "void"
        return None
    lat, lon = _degrees(gps.get(_GPS_LAT)), _degrees(gps.get(_GPS_LON))
    lat_ref, lon_ref = _text(gps.get(_GPS_LAT_REF)), _text(gps.get(_GPS_LON_REF))
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    lat, lon = (-lat if lat_ref == "S" else lat), (-lon if lon_ref == "W" else lon)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None  # 0,0 is what cameras write when they had no fix
    return lat, lon


def _captured_at(raw: Any, offset: Any) -> str | None:
    text = _text(raw)
    match = _EXIF_TIME.fullmatch(text or "")
    if match is None:
        return None
    y, mo, d, h, mi, s = match.groups()
    stamp = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
    zone = _text(offset)
    return stamp + zone if zone and _OFFSET.fullmatch(zone) else stamp


def read_evidence(image: Image.Image) -> dict[str, Any]:
    """Return the evidence fields as JSON-ready values; a broken EXIF yields no fields."""
    try:
        exif = image.getexif()
        gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
        sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # noqa: BLE001 - hostile EXIF of any shape means no evidence
        return {}
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    position = _gps(gps)
    return {
        "gps_lat": position[0] if position else None,
        "gps_lon": position[1] if position else None,
        "captured_at": _captured_at(
            sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_OFFSET_TIME_ORIGINAL)
        ),
        "camera_make": _text(exif.get(ExifTags.Base.Make)),
        "camera_model": _text(exif.get(ExifTags.Base.Model)),
        "orientation": orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
    }
