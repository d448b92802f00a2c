"""The web app served by uvicorn on 127.0.0.1, for tests that need real HTTP (a provider's
fake posting webhooks to it), and the plain web context such tests start from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.geo import build_geocoder
from tests.keys import TEST_VAULT
from web.app import WebContext, create_app


def web_context(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], media: Path, **parts: Any
) -> WebContext:
    """A web context without a bot, keyed with the tests' vault, plus `parts` (a channel's
    intake, say)."""
    return WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="head",
        bot_mode="none",
        media_dir=media,
        secret=b"k" * 32,
        geocoder=build_geocoder(user_agent="t"),
        vault=TEST_VAULT,
        **parts,
    )


@asynccontextmanager
async def serving(context: WebContext, port: int) -> AsyncIterator[None]:
    """uvicorn serving the app of `context` on 127.0.0.1:`port` until the block ends."""
    config = uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
