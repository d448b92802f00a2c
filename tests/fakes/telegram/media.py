"""Files in messages: photo size ladders, documents, and resolving what the bot sent as a file."""

import io
from typing import Any

from tests.fakes.telegram.limits import bad_request
from tests.fakes.telegram.state import FileStore, StoredFile, UploadedFile

# Telegram's thumbnail ladder (longest side); the original is capped at the last step.
_PHOTO_STEPS = (90, 320, 800, 1280, 2560)
FALLBACK_SIZE = (1280, 960)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image header, or None when it is not an image Pillow knows."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def photo_sizes(files: FileStore, data: bytes, size: tuple[int, int]) -> list[dict[str, Any]]:
    """Register a photo and return its PhotoSize array, smallest first.

    Every size downloads the original bytes (the fake does not resize or re-encode, so a test
    can see exactly what was uploaded); only the declared dimensions differ.
    """
    width, height = size
    longest = max(width, height, 1)
    steps = [step for step in _PHOTO_STEPS if step < longest]
    steps.append(min(longest, _PHOTO_STEPS[-1]))
    result = []
    for step in steps:
        scale = step / longest
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        declared = len(data) if step == steps[-1] else max(1, round(len(data) * scale * scale))
        stored = files.add(data, kind="photo", size=declared, width=w, height=h)
        result.append(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": declared,
                "width": w,
                "height": h,
            }
        )
    return result


def document_object(stored: StoredFile) -> dict[str, Any]:
    """The Document object for a stored file."""
    document: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def resolve_input_file(
    files: FileStore,
    value: Any,
    parts: dict[str, UploadedFile],
    *,
    kind: str,
    field: str,
) -> tuple[StoredFile, UploadedFile | None]:
    """What the bot sent as `field`: an upload (attach:// or a direct part), a file_id or a URL.

    Returns the stored file and, for uploads, the raw part (the caller records it once the send
    succeeds). Photos are checked the way Telegram checks them: undecodable bytes are refused.
    """
    part = _uploaded_part(value, parts, field)
    if part is not None:
        return _store_upload(files, part, kind=kind), part
    if not isinstance(value, str) or not value:
        raise bad_request(f"there is no {field} in the request")
    if value.startswith(("http://", "https://")):
        name = value.rsplit("/", 1)[-1] or None
        return files.add(b"", kind=kind, file_name=name, width=1, height=1), None
    stored = files.get(value)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored, None


def _uploaded_part(value: Any, parts: dict[str, UploadedFile], field: str) -> UploadedFile | None:
    if isinstance(value, UploadedFile):
        return value
    if isinstance(value, str) and value.startswith("attach://"):
        part = parts.get(value.removeprefix("attach://"))
        if part is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return part
    if value is None:
        return parts.get(field)
    return None


def _store_upload(files: FileStore, part: UploadedFile, *, kind: str) -> StoredFile:
    if not part.data:
        raise bad_request("file must be non-empty")
    width = height = 0
    if kind == "photo":
        size = image_size(part.data)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
    return files.add(
        part.data,
        kind=kind,
        file_name=part.filename,
        mime_type=part.content_type,
        width=width,
        height=height,
    )
