"""The composition root: build settings, database, web, workers and bot once, then run them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import sys
from collections.abc import Awaitable, Callable

import uvicorn

from core.geo import build_geocoder
from settings import Settings
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from tipline.keys import load_vault_key
from tipline.startup import bind_socket, lock_instance, prepare_database, validate_database_url
from web.app import WebContext, create_app

log = logging.getLogger("tipline")

Loop = Callable[[], Awaitable[None]]


def bot_mode(settings: Settings) -> str:
    """How the Telegram bot runs with these settings: disabled, polling or webhook."""
    if settings.bot_token is None:
        return "disabled"
    return "webhook" if settings.webhook_url else "polling"


def run(settings: Settings) -> None:
    """Check, migrate (SQLite only) and start everything in this process until a signal."""
    validate_database_url(settings.database_url)
    lock = lock_instance(settings)
    sock = bind_socket(settings.web_host, settings.web_port)
    try:
        vault_key = load_vault_key(settings)
        prepare_database(settings)
        asyncio.run(_serve(settings, sock, vault_key))
    finally:
        sock.close()
        if lock is not None:
            lock.close()


def derive_secret(vault_key: str, purpose: str) -> bytes:
    """A per-purpose secret derived from the vault key (CSRF tokens, callback tokens)."""
    return hmac.new(vault_key.encode(), purpose.encode(), hashlib.sha256).digest()


async def _serve(settings: Settings, sock: socket.socket, vault_key: str) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    mode = bot_mode(settings)
    settings.media_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision=migrate.head_revision(settings.database_url),
        bot_mode=mode,
        media_dir=settings.media_dir,
        secret=derive_secret(vault_key, "web"),
        geocoder=build_geocoder(user_agent="tipline"),
    )
    app = create_app(context)
    config = uvicorn.Config(app, log_level=settings.log_level.lower(), access_log=False)
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    print(f"Tipline web on http://{host}:{port} (database: {settings.backend})", file=sys.stderr)
    if mode == "disabled":
        print(
            "Telegram bot disabled: TIPLINE_BOT_TOKEN is not set (web form and dashboard run).",
            file=sys.stderr,
        )
    background: list[asyncio.Task[None]] = []
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()
