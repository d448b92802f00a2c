"""The bot's @username (for t.me links on posters), learnt from the Bot API's getMe.

One plain HTTP call rather than aiogram's Bot: a web process imports no aiogram (building its
types takes seconds of CPU), so a restarted web process answers sooner.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger("tipline")
RETRY_SECONDS = 30.0
TIMEOUT = aiohttp.ClientTimeout(total=10.0)


class GetMeRefused(Exception):
    """The Bot API answered getMe without a result (a revoked token, say)."""


async def get_username(*, api_base: str, token: str) -> str | None:
    """The bot's username as getMe reports it."""
    url = f"{api_base.rstrip('/')}/bot{token}/getMe"
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
        http.get(url) as response,
    ):
        body: dict[str, Any] = await response.json(content_type=None)
    if not body.get("ok"):
        raise GetMeRefused(f"HTTP {response.status}: {body.get('description', 'no description')}")
    username = body["result"].get("username")
    return str(username) if username else None


async def learn_username(*, api_base: str, token: str) -> str | None:
    """getMe, retried until the Bot API answers (posters link the web page meanwhile)."""
    while True:
        try:
            return await get_username(api_base=api_base, token=token)
        except (aiohttp.ClientError, TimeoutError, GetMeRefused, ValueError) as exc:
            # The exception's type only: aiohttp's messages quote the URL, and the token with it.
            log.warning(
                "cannot learn the bot's username (%s); retrying in %gs",
                type(exc).__name__,
                RETRY_SECONDS,
            )
            await asyncio.sleep(RETRY_SECONDS)
