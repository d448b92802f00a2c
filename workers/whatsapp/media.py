"""A person's WhatsApp photo: fetched from Meta with the token, then the same quarantine and
re-encode as a Telegram photo (core.photos, ARCHITECTURE rule 4)."""

from __future__ import annotations

from core.photos import DEFAULT_LIMITS, PhotoProcessor, ProcessedPhoto, process_photo_async
from workers.photos import Fetch, FetchFailed
from workers.whatsapp.graph import MAX_MEDIA, GraphClient, MediaError

PREFIX = "whatsapp:"


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


def whatsapp_fetcher(graph: GraphClient) -> Fetch:
    """The photo worker's fetch(source_ref) for `whatsapp:<media id>`: the bytes, which the
    worker sanitises and keeps like any other; a download that cannot succeed (too large,
    gone) fails for good, one that may (Meta unavailable) is tried again."""

    async def fetch(source_ref: str) -> bytes:
        if not source_ref.startswith(PREFIX):
            raise FetchFailed("unknown_source", permanent=True)
        try:
            data, _mime = await graph.download(source_ref.removeprefix(PREFIX))
        except MediaError as exc:
            raise FetchFailed(exc.reason, permanent=exc.reason != "unavailable") from exc
        return data

    return fetch
