"""Security headers on every response (pure ASGI middleware: streaming stays streaming).

A page that sets its own policy (the public form's stricter CSP) keeps it; everything else gets
the dashboard's: scripts only from us (no inline script), images from us, data: URIs and the map
tile host, no framing, no referrer, nothing cached. The OpenAPI docs page loads Swagger UI from
a CDN, so it gets the other headers but no CSP.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_CSP_PATHS = ("/api/docs", "/docs/oauth2-redirect")
CACHEABLE_PREFIX = "/static/"


def tile_origin(tile_url: str) -> str:
    """The origin a Leaflet tile URL template loads from ('' when there is none).

    https://{s}.tile.example.org/{z}/{x}/{y}.png -> https://*.tile.example.org
    """
    parts = urlsplit(tile_url.replace("{s}", "subdomain"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.netloc.replace("subdomain", "*")
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str) -> str:
    """The dashboard's CSP, with the tile host allowed for images."""
    images = " ".join(filter(None, ("'self'", "data:", tile_origin(tile_url))))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


class SecurityHeaders:
    """Adds the headers a response does not already carry."""

    def __init__(self, app: ASGIApp, *, tile_url: str = "") -> None:
        self.app = app
        self.csp = content_security_policy(tile_url)

    def _headers(self, path: str) -> dict[str, str]:
        headers = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        }
        if not path.startswith(CACHEABLE_PREFIX):
            headers["Cache-Control"] = "no-store"
        if not path.startswith(NO_CSP_PATHS):
            headers["Content-Security-Policy"] = self.csp
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
