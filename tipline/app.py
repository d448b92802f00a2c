"""The composition root: build settings, database, web, workers and bot once, then run them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Awaitable, Callable

import uvicorn

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
        load_vault_key(settings)
        prepare_database(settings)
        asyncio.run(_serve(settings, sock))
    finally:
        sock.close()
        if lock is not None:
            lock.close()


async def _serve(settings: Settings, sock: socket.socket) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    mode = bot_mode(settings)
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision=migrate.head_revision(settings.database_url),
        bot_mode=mode,
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
