"""Read the report form's body in bounded memory, keeping what was typed when files are refused.

Starlette's request.form() spools every file to disk without a size limit and, on any limit, loses
the fields already read. This reader stops storing a file's bytes at its limit (still counting them,
so the sender can be told), stops reading the body at the request limit, and keeps the fields that
came before: the form puts every typed field before the photos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from core.tips.drafts import MAX_ATTACHMENTS
from core.tips.web_intake import MAX_PHOTO_BYTES, Upload

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_REQUEST_BYTES = 60 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 60
MAX_NAME_CHARS = 80


class MalformedForm(Exception):
    """The body is not a form this page could have sent."""


@dataclass(slots=True)
class ReceivedForm:
    """Fields as typed and files as received; too_large means reading stopped at the limit."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    too_large: bool = False

    def get(self, name: str) -> str:
        """The first value of a field, or an empty string."""
        values = self.fields.get(name)
        return values[0] if values else ""

    def getlist(self, name: str) -> list[str]:
        """Every value of a field."""
        return list(self.fields.get(name, []))

    def add_field(self, name: str, value: str) -> None:
        """Record one field, refusing more fields than the form has."""
        if sum(len(v) for v in self.fields.values()) >= MAX_FIELDS:
            raise MalformedForm("too many fields")
        self.fields.setdefault(name, []).append(value)


async def read_form(request: Request, *, max_bytes: int = MAX_REQUEST_BYTES) -> ReceivedForm:
    """Read a multipart or urlencoded form within the limits; MalformedForm for anything else."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    declared = _declared_length(request)
    try:
        if kind == b"multipart/form-data" and options.get(b"boundary"):
            return await _read_multipart(request, options[b"boundary"], declared, max_bytes)
        if kind == b"application/x-www-form-urlencoded":
            return await _read_urlencoded(request)
    except (FormParserError, ClientDisconnect, UnicodeDecodeError, ValueError) as error:
        raise MalformedForm(type(error).__name__) from error
    raise MalformedForm("not a form")


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise MalformedForm("bad content-length")
    return int(value)


async def _read_urlencoded(request: Request) -> ReceivedForm:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FIELDS * MAX_FIELD_BYTES:
            raise MalformedForm("form too large")
    form = ReceivedForm()
    pairs = parse_qsl(
        body.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
    )
    for name, value in pairs:
        form.add_field(name, value)
    return form


async def _read_multipart(
    request: Request, boundary: bytes, declared: int | None, max_bytes: int
) -> ReceivedForm:
    collector = _Collector(stop_at_files=declared is not None and declared > max_bytes)
    parser = MultipartParser(boundary, collector.callbacks())
    received = 0
    async for chunk in request.stream():
        allowed = chunk[: max_bytes - received]
        received += len(chunk)
        parser.write(allowed)
        if received > max_bytes or collector.stopped:
            collector.form.too_large = True
            break
    if collector.form.too_large:
        collector.form.files = []  # the whole request is refused; keep only what was typed
    elif not collector.ended:
        raise MalformedForm("truncated body")
    return collector.form


class _Collector:
    """python-multipart callbacks that build a ReceivedForm part by part."""

    def __init__(self, *, stop_at_files: bool) -> None:
        self.form = ReceivedForm()
        self.stop_at_files = stop_at_files
        self.stopped = False
        self.ended = False
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._name = ""
        self._filename: str | None = None
        self._data = bytearray()
        self._size = 0
        self._files_seen = 0

    def callbacks(self) -> MultipartCallbacks:
        """The callback table MultipartParser expects."""
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._disposition, self._filename, self._data, self._size = b"", None, bytearray(), 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def on_headers_finished(self) -> None:
        kind, options = parse_options_header(self._disposition)
        if kind != b"form-data" or b"name" not in options:
            raise MalformedForm("part without a form-data name")
        self._name = options[b"name"].decode("utf-8")
        if b"filename" in options:
            raw = options[b"filename"]
            self._filename = _display_name(raw) if raw else ""
            self.stopped = self.stop_at_files

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._filename is None:
            if self._size > MAX_FIELD_BYTES:
                raise MalformedForm("field too large")
            self._data += data[start:end]
        elif self._size <= MAX_PHOTO_BYTES and self._files_seen < MAX_ATTACHMENTS:
            self._data += data[start:end]
        else:
            self._data = bytearray()  # refused anyway: count the bytes, do not keep them

    def on_part_end(self) -> None:
        if self._filename is None:
            self.form.add_field(self._name, self._data.decode("utf-8"))
        elif self._filename or self._size:  # an empty, unnamed part is "no file chosen"
            self._files_seen += 1
            name = self._filename or "?"
            upload = Upload(name=name, data=bytes(self._data), size=self._size)
            self.form.files.append(upload)
        self._data = bytearray()

    def on_end(self) -> None:
        self.ended = True


def _display_name(raw: bytes) -> str:
    """The file's own name (no folders), only to name it back to its sender."""
    name = raw.decode("utf-8", errors="replace").replace("\\", "/")
    name = "".join(ch for ch in os.path.basename(name) if ch.isprintable()).strip()
    return name[:MAX_NAME_CHARS] or "?"
