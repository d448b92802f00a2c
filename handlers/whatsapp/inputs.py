"""What a WhatsApp message carries (its admitted body, without the sender), read into the
engine's plain input: text, a point, a picture, a button's id, or what we do not read."""

from __future__ import annotations

from typing import Any

from core.tips.drafts import Attachment
from handlers.engine.channel import Point
from handlers.engine.inputs import Input, Media, Place, Press, Unreadable, read_text

UNSUPPORTED = "chat.unsupported"
CONTACT_KEPT = "input.contact_kept"


def _text(body: dict[str, Any]) -> Input:
    text = (body.get("text") or {}).get("body")
    return read_text(text) if isinstance(text, str) and text.strip() else Unreadable(UNSUPPORTED)


def _place(body: dict[str, Any]) -> Input:
    where = body.get("location") or {}
    lat, lon = where.get("latitude"), where.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return Unreadable(UNSUPPORTED)
    named = [where.get(k) for k in ("name", "address") if isinstance(where.get(k), str)]
    text = ", ".join(part for part in named if part)
    if text:
        return Place(Point(float(lat), float(lon), source="venue", text=text))
    return Place(Point(float(lat), float(lon)))


def _picture(body: dict[str, Any], kind: str) -> Input:
    media = body.get(kind) or {}
    media_id, mime = media.get("id"), media.get("mime_type")
    if not isinstance(media_id, str) or not str(mime or "").startswith("image/"):
        return Unreadable(UNSUPPORTED)
    found = Attachment(
        kind="photo" if kind == "image" else "document",
        source_ref=f"whatsapp:{media_id}",
        unique_id=media_id,
        mime_type=str(mime),
        name=media.get("filename") if isinstance(media.get("filename"), str) else None,
    )
    caption = media.get("caption")
    return Media(found, caption if isinstance(caption, str) else "")


def _reply(body: dict[str, Any]) -> Input:
    interactive = body.get("interactive") or {}
    reply = interactive.get(interactive.get("type")) if isinstance(interactive, dict) else None
    reply_id = reply.get("id") if isinstance(reply, dict) else None
    return Press(reply_id) if isinstance(reply_id, str) else Unreadable(UNSUPPORTED)


def _template_button(body: dict[str, Any]) -> Input:
    payload = (body.get("button") or {}).get("payload")
    return Press(payload) if isinstance(payload, str) else Unreadable(UNSUPPORTED)


def read(kind: str, body: dict[str, Any]) -> Input:
    """The input of one admitted message; stickers, reactions, audio, contact cards and types
    we do not know are Unreadable, with the text that says what the tip line reads."""
    if kind == "text":
        return _text(body)
    if kind == "location":
        return _place(body)
    if kind in ("image", "document"):
        return _picture(body, kind)
    if kind == "interactive":
        return _reply(body)
    if kind == "button":
        return _template_button(body)
    return Unreadable(CONTACT_KEPT if kind == "contacts" else UNSUPPORTED)
