"""Which update or request a log line belongs to (JSON logs carry them; docs/operations.md)."""

from __future__ import annotations

from contextvars import ContextVar

# Set per task: the inbox processor handles each update in its own task, the web app each request.
UPDATE_ID: ContextVar[int | None] = ContextVar("update_id", default=None)
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
