"""Turning a processed photo into evidence fields on its row (GPS kept, never passed on)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.people import PAYLOADS, notice_of, tell
from core.i18n import Texts
from core.photos import ProcessedPhoto
from storage.models import Tip, TipPhoto, Tipster

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


REFUSAL_TEXTS = {
    "unsupported_type": "photo.refused.type",
    "too_large": "photo.refused.too_large",
    "damaged": "photo.refused.damaged",
    "empty": "photo.refused.damaged",
    "timeout": "photo.refused.too_large",
    "crashed": "photo.refused.damaged",
    "gone": "photo.refused.gone",
    "unavailable": "photo.refused.unavailable",
}


# The texts' variant of a channel (core.i18n.Texts): WhatsApp has no /add.
VARIANTS = {"whatsapp": "chat"}


async def tell_sender_photo_refused(session: AsyncSession, *, photo: TipPhoto) -> bool:
    """Queue a clear message to the tipster (on a channel we send on) whose file we could not
    use (no commit)."""
    tip = await session.get(Tip, photo.tip_id)
    if tip is None or tip.tipster_id is None or tip.channel not in PAYLOADS:
        return False
    tipster = await session.get(Tipster, tip.tipster_id)
    if tipster is None or tipster.blocked:
        return False
    texts = Texts(tipster.language, VARIANTS.get(tip.channel))
    reason = texts(REFUSAL_TEXTS.get(photo.reject_reason or "", "photo.refused.other"))
    text = texts("photo.refused", ref=tip.ref, reason=reason)
    notice = notice_of(text, tipster.language)
    key = f"photo-refused:{photo.id}"
    return await tell(session, tipster_id=tipster.id, notice=notice, key=key)
