"""Signed double-submit CSRF tokens, and the other small values a form page signs.

GET sets a random value in an HttpOnly, SameSite=Strict cookie and puts HMAC(secret, value) in a
hidden field. POST is accepted only when the field is the HMAC of the cookie: another site can
neither read the cookie nor compute the HMAC without the server's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tipline_csrf"
FIELD = "csrf"
COOKIE_MAX_AGE = 12 * 3600
_RANDOM = re.compile(r"[A-Za-z0-9_-]{32,64}")


def sign(secret: bytes, purpose: str, value: str) -> str:
    """An HMAC-SHA256 of value for one purpose, URL-safe."""
    digest = hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed(secret: bytes, purpose: str, value: str) -> str:
    """value with its signature appended (value.signature)."""
    return f"{value}.{sign(secret, purpose, value)}"


def unsigned(secret: bytes, purpose: str, text: str) -> str | None:
    """The value of a signed(...) string, or None when the signature does not match."""
    value, _, signature = text.rpartition(".")
    if not value or not hmac.compare_digest(signature, sign(secret, purpose, value)):
        return None
    return value


def cookie_value(request: Request) -> str:
    """The browser's CSRF cookie value, or a fresh one when it has none (or a malformed one)."""
    value = request.cookies.get(COOKIE, "")
    return value if _RANDOM.fullmatch(value) else secrets.token_urlsafe(32)


def token_for(secret: bytes, value: str) -> str:
    """The hidden-field token for a cookie value."""
    return sign(secret, "csrf", value)


def is_valid(secret: bytes, request: Request, token: str) -> bool:
    """Whether token is the signature of this browser's CSRF cookie."""
    value = request.cookies.get(COOKIE, "")
    if not _RANDOM.fullmatch(value) or not token:
        return False
    return hmac.compare_digest(token, token_for(secret, value))


def set_cookie(response: Response, request: Request, value: str) -> None:
    """Set (or refresh) the CSRF cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=COOKIE_MAX_AGE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def new_nonce(secret: bytes) -> str:
    """A signed per-form random value: one form, however often it is sent, makes one tip."""
    return signed(secret, "nonce", secrets.token_urlsafe(24))


def nonce_key(secret: bytes, text: str) -> str | None:
    """The tip's source key for a nonce this server issued, else None."""
    value = unsigned(secret, "nonce", text)
    return f"web:{value}" if value is not None and _RANDOM.fullmatch(value) else None
