"""The offline place layer: names to coarse places, points to nearest cities, distances.

geocoder = build_geocoder(user_agent="tipline/1")
location = geocoder.geocode("西安")  # Location("Xi’an, Shaanxi, China", ...)
candidates = geocoder.geocode("Springfield", exactly_one=False, country="US")
"""

from core.geo.distance import (
    BBox,
    LatLon,
    bbox,
    bbox_contains,
    distance_km,
    longitude_ranges,
    validate_point,
)
from core.geo.gazetteer import Gazetteer, Place, PlaceKind, load_gazetteer
from core.geo.geocoder import GeocodingService, OfflineGeocoder, build_geocoder, to_location
from core.geo.names import normalise

__all__ = [
    "BBox",
    "Gazetteer",
    "GeocodingService",
    "LatLon",
    "OfflineGeocoder",
    "Place",
    "PlaceKind",
    "bbox",
    "bbox_contains",
    "build_geocoder",
    "distance_km",
    "load_gazetteer",
    "longitude_ranges",
    "normalise",
    "to_location",
    "validate_point",
]
