"""Reading a Bot API request the way Telegram does: query string, JSON, urlencoded or multipart."""

import json
from typing import Any

from aiohttp import web

from tests.fakes.telegram.state import UploadedFile

# Form fields that are text even when they look like JSON ("123", "true").
_TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "file_id",
        "action",
        "language_code",
        "title",
        "address",
        "phone_number",
        "first_name",
        "last_name",
        "emoji",
        "photo",
        "document",
        "video",
        "voice",
        "sticker",
        "business_connection_id",
        "message_effect_id",
    }
)


def _decode(key: str, value: str) -> Any:
    """aiogram sends nested objects, numbers and booleans as JSON inside form fields."""
    if key in _TEXT_FIELDS or not value:
        return value
    if value[0] in '{["-' or value[0].isdigit() or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Params from the query string and a JSON, urlencoded or multipart body; file parts apart."""
    params: dict[str, Any] = {key: _decode(key, value) for key, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
        return params, files
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            params[key] = _decode(key, str(value))
    return params, files
