"""What operators reach: /healthz, /metrics (Prometheus, behind a bearer token), request ids."""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.health import database_health
from core.logcontext import REQUEST_ID
from core.metrics import REGISTRY, refresh_gauges

router = APIRouter(include_in_schema=False)
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers at the code's migration; 503 otherwise."""
    context = request.app.state.context
    try:
        health = await database_health(context.engine, head=context.head_revision)
    except Exception as exc:  # noqa: BLE001 - health reports any failure
        body = {"status": "unavailable", "database": {"error": type(exc).__name__}}
        return JSONResponse(body, status_code=503)
    body = {
        "status": "ok" if health.at_head else "degraded",
        "database": {
            "backend": health.backend,
            "revision": health.revision,
            "head": health.head,
            "at_head": health.at_head,
        },
        "bot": context.bot_mode,
    }
    return JSONResponse(body, status_code=200 if health.at_head else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format; 404 without TIPLINE_METRICS_TOKEN, 401 without the right one."""
    token: str | None = request.app.state.context.metrics_token
    if not token:
        return Response(status_code=404)
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    state = request.app.state
    if not hasattr(state, "scrape_lock"):
        state.scrape_lock = asyncio.Lock()
    async with state.scrape_lock:  # the gauges are shared: one scrape fills them at a time
        async with request.app.state.context.sessions() as session:
            await refresh_gauges(session)
        body = generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class RequestIds:
    """Give each request an id (the proxy's X-Request-ID when it is sane), for the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set the id for this request's task and echo it in the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.fullmatch(given) else secrets.token_hex(8)
        REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_ops_app(context: Any) -> FastAPI:
    """The bot and worker roles' HTTP: health and metrics only."""
    app = FastAPI(title="Tipline (ops)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = context
    app.include_router(router)
    app.add_middleware(RequestIds)
    return app
