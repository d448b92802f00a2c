"""Logging set-up: human-readable lines, or JSON (one event per line) for log pipelines.

A JSON event has the time, level, logger, message, the process's role and pid, and the Telegram
update id or HTTP request id it belongs to. It carries only what the message itself says: Tipline's
log messages name rows by id and never include identity or tip text, and exceptions are reduced
to their type and traceback lines (no local variables).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from core.logcontext import REQUEST_ID, UPDATE_ID
from settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "role": self.role,
            "pid": os.getpid(),
        }
        if (update_id := UPDATE_ID.get()) is not None:
            event["update_id"] = update_id
        if (request_id := REQUEST_ID.get()) is not None:
            event["request_id"] = request_id
        if record.exc_info:
            event["error"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def configure_logging(settings: Settings, *, role: str = "all") -> None:
    """Send logs to stderr in the chosen format (TIPLINE_LOG_FORMAT)."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Migration chatter is not news; errors still reach stderr as one clear line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
