"""Point validation, geodesic distances and bounding boxes for indexed-column prefilters."""

from __future__ import annotations

import math
from numbers import Real

from geopy.distance import geodesic

LatLon = tuple[float, float]
BBox = tuple[float, float, float, float]
"""(min_lat, max_lat, min_lon, max_lon); min_lon > max_lon when it crosses the antimeridian."""

# The smallest radius of curvature of the WGS-84 ellipsoid (along the meridian, at the equator).
# Measuring angles on a sphere this small overstates how far a geodesic radius reaches, so the
# box always contains the true circle.
_MIN_RADIUS_KM = 6335.439


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, not {value!r}")
    return number


def validate_point(latitude: object, longitude: object) -> LatLon:
    """Return (latitude, longitude) as floats, or raise ValueError saying which is wrong."""
    lat = _number("latitude", latitude)
    lon = _number("longitude", longitude)
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude must be between -90 and 90 degrees, not {lat!r}")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude must be between -180 and 180 degrees, not {lon!r}")
    return lat, lon


def distance_km(a: LatLon, b: LatLon) -> float:
    """Return the geodesic (WGS-84) distance in kilometres between two (lat, lon) points."""
    return float(geodesic(validate_point(*a), validate_point(*b)).km)


def bbox(latitude: float, longitude: float, radius_km: float) -> BBox:
    """Return (min_lat, max_lat, min_lon, max_lon) containing every point within radius_km."""
    lat, lon = validate_point(latitude, longitude)
    radius = _number("radius_km", radius_km)
    if radius < 0:
        raise ValueError(f"radius_km must not be negative, not {radius!r}")
    angle = radius / _MIN_RADIUS_KM
    min_lat = lat - math.degrees(angle)
    max_lat = lat + math.degrees(angle)
    if min_lat <= -90.0 or max_lat >= 90.0:
        # The circle contains a pole: every longitude is within reach.
        return max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0
    # Widest longitude span of a spherical cap (not angle / cos(lat), which is too small).
    half_width = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    min_lon, max_lon = lon - half_width, lon + half_width
    if min_lon < -180.0:
        min_lon += 360.0
    if max_lon > 180.0:
        max_lon -= 360.0
    return min_lat, max_lat, min_lon, max_lon


def longitude_ranges(box: BBox) -> list[tuple[float, float]]:
    """Return the box's longitude span as one range, or two when it crosses the antimeridian."""
    _, _, min_lon, max_lon = box
    if min_lon <= max_lon:
        return [(min_lon, max_lon)]
    return [(min_lon, 180.0), (-180.0, max_lon)]


def bbox_contains(box: BBox, latitude: float, longitude: float) -> bool:
    """Return whether a point lies in the box, honouring a crossing of the antimeridian."""
    min_lat, max_lat, _, _ = box
    if not min_lat <= latitude <= max_lat:
        return False
    return any(low <= longitude <= high for low, high in longitude_ranges(box))
