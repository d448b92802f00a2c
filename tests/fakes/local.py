"""What a fake provider is made of: an aiohttp app on 127.0.0.1 (a free port), and a client
to post webhooks to the app under test with."""

from __future__ import annotations

import aiohttp
from aiohttp import web


class LocalServer:
    """Serve an app until `stop` (on `port`, or a free one when it is 0); `client` posts
    webhooks while it runs."""

    host = "127.0.0.1"
    port = 0
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None

    async def serve(self, app: web.Application) -> None:
        """Start serving `app` on `port` (0: a free one, then `port` is it)."""
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self._client = aiohttp.ClientSession()

    @property
    def client(self) -> aiohttp.ClientSession:
        """The HTTP client of a running server."""
        assert self._client is not None, "start the fake with `async with`"
        return self._client

    async def stop(self) -> None:
        """Close the client and the server."""
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
