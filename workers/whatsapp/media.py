"""A person's WhatsApp photo: fetched from Meta with the token, then the same quarantine and
re-encode as a Telegram photo (core.photos, ARCHITECTURE rule 4)."""

from __future__ import annotations

from core.photos import DEFAULT_LIMITS, PhotoProcessor, ProcessedPhoto, process_photo_async
from workers.whatsapp.graph import MAX_MEDIA, GraphClient


async def fetch_photo(
    graph: GraphClient,
    media_id: str,
    *,
    limit: int = MAX_MEDIA,
    processor: PhotoProcessor | None = None,
) -> ProcessedPhoto:
    """Download and sanitise; MediaError (too_large, gone, unavailable) or PhotoRejected (not
    a photo we read, damaged...), each with a reason the flow can explain to the person."""
    data, _mime = await graph.download(media_id, limit=limit)  # the bytes say what they are
    return await process_photo_async(data, limits=DEFAULT_LIMITS, processor=processor)
