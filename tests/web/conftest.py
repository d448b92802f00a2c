"""The web tests' shared fixtures: a web context on the test database and a client of its app.

A test module that needs more (a geocoder, a bot name, other stores) defines its own `context`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.web.dashboard_world import build_context, client_for
from web.app import WebContext


@pytest.fixture
def context(engine, sessions, tmp_path) -> WebContext:
    """The web app's context: the test database, media under tmp_path, test keys."""
    return build_context(engine, sessions, tmp_path / "media")


@pytest.fixture
async def client(context: WebContext) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app built on `context` (the module's own, where it has one)."""
    async for client in client_for(context):
        yield client
