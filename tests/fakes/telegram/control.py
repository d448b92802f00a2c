"""The /_control HTTP API: drive the fake from another process (crash tests, benchmarks).

All bodies are JSON. Bytes travel base64-encoded in fields ending in `_b64`.
"""

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.telegram.server import FakeTelegram

FAKE_KEY: web.AppKey["FakeTelegram"] = web.AppKey("fake_telegram")
BUILDERS = frozenset(
    {
        "text_message",
        "command",
        "photo_message",
        "document_message",
        "location_message",
        "venue_message",
        "contact_message",
        "voice_message",
        "sticker_message",
        "callback_query",
        "edited_message",
        "channel_post",
        "my_chat_member",
        "update_of_unknown_type",
    }
)


def add_control_routes(app: web.Application, fake: "FakeTelegram") -> None:
    """Mount /_control/* on the fake's application."""
    app[FAKE_KEY] = fake
    routes = [
        web.get("/_control/health", _health),
        web.get("/_control/stats", _stats),
        web.get("/_control/calls", _calls),
        web.get("/_control/sent_texts", _sent_texts),
        web.get("/_control/uploads", _uploads),
        web.get("/_control/uploads/{index}", _upload_bytes),
        web.get("/_control/webhook", _webhook),
        web.post("/_control/push_update", _push_update),
        web.post("/_control/build/{builder}", _build),
        web.post("/_control/deliver", _deliver),
        web.post("/_control/fail_next", _fail_next),
        web.post("/_control/timeout_next", _timeout_next),
        web.post("/_control/chat/{action}", _chat),
        web.post("/_control/rate_limit", _rate_limit),
        web.post("/_control/reset", _reset),
    ]
    app.router.add_routes(routes)


def _fake(request: web.Request) -> "FakeTelegram":
    return request.app[FAKE_KEY]


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "base_url": _fake(request).base_url})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(_fake(request).stats())


def _call_json(index: int, call: Any) -> dict[str, Any]:
    files = {
        name: {
            "filename": part.filename,
            "content_type": part.content_type,
            "size": len(part.data),
            "sha256": hashlib.sha256(part.data).hexdigest(),
        }
        for name, part in call.files.items()
    }
    return {
        "index": index,
        "method": call.method,
        "params": call.params,
        "files": files,
        "time": call.time,
        "status": call.status,
        "error": call.error,
        "result": call.result,
    }


async def _calls(request: web.Request) -> web.Response:
    """?method=&chat_id=&since=N (N = the `next` of the previous answer, for tailing)."""
    fake = _fake(request)
    since = int(request.query.get("since", 0))
    method = request.query.get("method")
    chat_id = request.query.get("chat_id")
    everything = fake.calls()
    wanted = {id(call) for call in fake.calls(method, chat_id)}
    calls = [
        _call_json(index, call)
        for index, call in enumerate(everything[since:], start=since)
        if id(call) in wanted
    ]
    return web.json_response({"calls": calls, "next": len(everything)})


async def _sent_texts(request: web.Request) -> web.Response:
    return web.json_response(_fake(request).sent_texts(request.query["chat_id"]))


async def _uploads(request: web.Request) -> web.Response:
    uploads = [
        {
            "index": index,
            "method": upload.method,
            "chat_id": upload.chat_id,
            "field": upload.field,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": len(upload.data),
            "sha256": hashlib.sha256(upload.data).hexdigest(),
            "file_id": upload.file_id,
        }
        for index, upload in enumerate(_fake(request).uploads())
    ]
    return web.json_response(uploads)


async def _upload_bytes(request: web.Request) -> web.Response:
    uploads = _fake(request).uploads()
    index = int(request.match_info["index"])
    if not 0 <= index < len(uploads):
        raise web.HTTPNotFound()
    return web.Response(body=uploads[index].data, content_type="application/octet-stream")


async def _webhook(request: web.Request) -> web.Response:
    hook = _fake(request).webhook
    return web.json_response(None if hook is None else vars(hook))


async def _push_update(request: web.Request) -> web.Response:
    """{"update": {...}} or {"updates": [...]} (bulk, for benchmarks)."""
    fake, body = _fake(request), await _body(request)
    updates = body.get("updates") or [body.get("update", body)]
    return web.json_response({"update_ids": [fake.push_update(update) for update in updates]})


async def _build(request: web.Request) -> web.Response:
    """Run a builder with the body as keyword arguments; "push": false to only build,
    "count": N to build (and push) N of the same."""
    fake, kwargs = _fake(request), await _body(request)
    name = request.match_info["builder"]
    if name not in BUILDERS:
        raise web.HTTPNotFound(text=f"unknown builder {name}")
    push, count = kwargs.pop("push", True), int(kwargs.pop("count", 1))
    for key in [key for key in kwargs if key.endswith("_b64")]:
        kwargs[key.removesuffix("_b64")] = base64.b64decode(kwargs.pop(key))
    builder = getattr(fake, name)
    updates = [builder(**kwargs) for _ in range(count)]
    if push:
        for update in updates:
            fake.push_update(update)
    return web.json_response({"updates": updates})


async def _deliver(request: web.Request) -> web.Response:
    body = await _body(request)
    return web.json_response({"status": await _fake(request).deliver(body.get("update", body))})


async def _fail_next(request: web.Request) -> web.Response:
    """{"method": "sendMessage", "status": 500, "description": ..., "count": 1, ...}"""
    body = await _body(request)
    _fake(request).fail_next(body.pop("method", "*"), **body)
    return web.json_response({"ok": True})


async def _timeout_next(request: web.Request) -> web.Response:
    """{"method": "sendMessage", "seconds": 90, "count": 1, "delivered": false}"""
    body = await _body(request)
    _fake(request).timeout_next(body.pop("method"), body.pop("seconds"), **body)
    return web.json_response({"ok": True})


async def _chat(request: web.Request) -> web.Response:
    """/_control/chat/{block|unblock|delete|register} with {"chat_id": N, ...}."""
    fake, body = _fake(request), await _body(request)
    chat_id = int(body.pop("chat_id"))
    actions = {
        "block": fake.block_chat,
        "unblock": fake.unblock_chat,
        "delete": fake.delete_chat,
    }
    action = request.match_info["action"]
    if action == "register":
        return web.json_response(fake.register_chat(chat_id, **body))
    if action not in actions:
        raise web.HTTPNotFound(text=f"unknown chat action {action}")
    actions[action](chat_id)
    return web.json_response({"ok": True})


async def _rate_limit(request: web.Request) -> web.Response:
    """{"enabled": false} switches flood limits off, true back on."""
    fake, body = _fake(request), await _body(request)
    fake.rate_limit_enabled = bool(body.get("enabled", True))
    return web.json_response({"enabled": fake.rate_limit_enabled})


async def _reset(request: web.Request) -> web.Response:
    _fake(request).reset()
    return web.json_response({"ok": True})
