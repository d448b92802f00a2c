"""Untrusted photo processing: sniff, decode in a limited subprocess, re-encode without metadata."""

from core.photos.errors import PhotoRejected
from core.photos.models import DEFAULT_LIMITS, ExifEvidence, PhotoLimits, ProcessedPhoto
from core.photos.processor import (
    PhotoProcessor,
    default_processor,
    process_photo,
    process_photo_async,
)
from core.photos.sniff import heic_supported, sniff

__all__ = [
    "DEFAULT_LIMITS",
    "ExifEvidence",
    "PhotoLimits",
    "PhotoProcessor",
    "PhotoRejected",
    "ProcessedPhoto",
    "default_processor",
    "heic_supported",
    "process_photo",
    "process_photo_async",
    "sniff",
]
