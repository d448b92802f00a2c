"""The web application factory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.geo import GeocodingService
from core.health import database_health
from core.inbox import AdmissionBatcher
from web.report import router as report_router
from web.telegram import router as telegram_router

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@dataclass(slots=True)
class WebContext:
    """What the composition root hands to the web layer."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    head_revision: str
    bot_mode: str
    media_dir: Path
    secret: bytes
    geocoder: GeocodingService
    admission: AdmissionBatcher | None = None
    webhook_secret: str | None = None


def create_app(context: WebContext) -> FastAPI:
    """Build the FastAPI app around an already-built context."""
    app = FastAPI(title="Tipline", version="0.1.0", docs_url="/api/docs", redoc_url=None)
    app.state.context = context
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), "static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def landing(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "landing.html", {"bot_mode": context.bot_mode})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
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

    app.include_router(telegram_router)
    app.include_router(report_router)
    return app
