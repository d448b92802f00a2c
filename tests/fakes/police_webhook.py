"""A police system's webhook endpoint: a real aiohttp server on 127.0.0.1 that verifies
Standard Webhooks signatures with the reference `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from core.delivery.webhook_targets import TargetRules


@dataclass
class Receiver:
    """A police system's endpoint: verifies signatures with the reference library, answers as
    scripted, remembers requests."""

    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    url: str = ""

    def verified(self, body: bytes, headers) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, dict(headers), json_parse=False)
            except WebhookVerificationError:
                continue
            return True
        return False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signed = self.verified(body, request.headers)
        self.requests.append(
            {
                "key": request.headers.get("Idempotency-Key"),
                "signed": signed,
                "body": body,
                "headers": dict(request.headers),
                "at": time.monotonic(),
            }
        )
        status, headers, delay = self.script.pop(0) if self.script else (200, {}, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if not signed:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=status, headers=headers, text=f"answer {status}")

    @property
    def keys(self) -> list[str]:
        return [r["key"] for r in self.requests]

    @property
    def rules(self) -> TargetRules:
        parts = urlsplit(self.url)
        return TargetRules.build(exempt=[f"{parts.hostname}:{parts.port}"])


async def serve_receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the generator is closed."""
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()
