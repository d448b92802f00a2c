"""JSON logs: one object per line, with the update or request id, and nothing else added."""

from __future__ import annotations

import json
import logging
import sys

from core.logcontext import REQUEST_ID, UPDATE_ID
from tipline.logs import JsonFormatter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("tipline.inbox", logging.WARNING, __file__, 1, message, args, None)


def test_an_event_is_one_line_of_json_with_its_update_id() -> None:
    token = UPDATE_ID.set(90311)
    try:
        line = JsonFormatter("bot").format(_record("update %s: retry %d", 17, 2))
    finally:
        UPDATE_ID.reset(token)
    assert "\n" not in line
    event = json.loads(line)
    assert event["message"] == "update 17: retry 2"
    assert event["update_id"] == 90311 and "request_id" not in event
    assert event["level"] == "warning" and event["logger"] == "tipline.inbox"
    assert event["role"] == "bot" and isinstance(event["pid"], int)
    assert set(event) == {"time", "level", "logger", "message", "role", "pid", "update_id"}


def test_a_request_id_and_an_error_are_carried() -> None:
    token = REQUEST_ID.set("3f9c0e2a")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = _record("request failed")
            record.exc_info = sys.exc_info()
        event = json.loads(JsonFormatter("web").format(record))
    finally:
        REQUEST_ID.reset(token)
    assert event["request_id"] == "3f9c0e2a"
    assert "ValueError: boom" in event["error"]
