"""What a Telegram message carries, read into the engine's plain input: text, a point, a file."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message

from core.tips.drafts import TELEGRAM_DOWNLOAD_LIMIT, Attachment, AttachmentKind
from handlers.engine.channel import Point

# Documents are taken only when they are pictures or videos ("send as file" keeps GPS).
MEDIA_DOCUMENT_PREFIXES = ("image/", "video/")


def _file(message: Message) -> tuple[AttachmentKind, Any] | None:
    if message.photo:
        return "photo", message.photo[-1]  # sizes come smallest first
    kinds: tuple[tuple[AttachmentKind, Any], ...] = (
        ("video", message.video),
        ("video_note", message.video_note),
        ("voice", message.voice),
        ("document", message.document),
    )
    return next(((kind, file) for kind, file in kinds if file is not None), None)


def attachment_of(message: Message) -> Attachment | str:
    """The message's file as an Attachment, or the text key saying why it cannot be used."""
    found = _file(message)
    if found is None:
        return "input.unsupported"
    kind, file = found
    mime = "image/jpeg" if kind == "photo" else getattr(file, "mime_type", None)
    if kind == "document" and not (mime or "").startswith(MEDIA_DOCUMENT_PREFIXES):
        return "input.unsupported"
    if file.file_size is not None and file.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        return "input.too_big"
    return Attachment(
        kind=kind,
        source_ref=f"telegram:{file.file_id}",
        unique_id=file.file_unique_id,
        mime_type=mime,
        size=file.file_size,
        name=getattr(file, "file_name", None),
        media_group_id=message.media_group_id,
    )


def text_of(message: Message) -> str:
    """The message's text, or a file's caption."""
    return message.text or message.caption or ""


def point_of(message: Message) -> Point:
    """The point of a pin, live location or venue (call for a message that has one)."""
    if message.venue is not None:
        venue = message.venue
        text = ", ".join(part for part in (venue.title, venue.address) if part)
        where = venue.location
        return Point(where.latitude, where.longitude, source="venue", text=text)
    point = message.location
    if point is None:
        raise ValueError("a message without a location")
    live = bool(point.live_period)
    return Point(
        point.latitude, point.longitude, "live" if live else "pin", point.horizontal_accuracy
    )
