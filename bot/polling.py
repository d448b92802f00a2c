"""Long polling that acknowledges an update only after it is committed to the inbox."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.inbox import ChatKey, admit, validate_update
from storage.repositories import InboxRepository

log = logging.getLogger("tipline.polling")


class DurablePoller:
    """getUpdates → commit to inbox → only then move the offset past those updates."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        token: str,
        api_base: str,
        wakeup: asyncio.Event,
        chat_key: ChatKey,
        timeout: int = 25,
        limit: int = 100,
    ) -> None:
        self.sessions = sessions
        self.url = f"{api_base.rstrip('/')}/bot{token}/getUpdates"
        self.wakeup = wakeup
        self.chat_key = chat_key
        self.timeout = timeout
        self.limit = limit
        self.offset: int | None = None

    async def run_forever(self) -> None:
        """Poll until cancelled, backing off on errors."""
        async with self.sessions() as session:
            last = await InboxRepository(session).max_update_id()
        self.offset = last + 1 if last is not None else None
        backoff = 1.0
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    await self.poll_once(http)
                    backoff = 1.0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - keep polling whatever happens
                    log.warning("polling failed (%s); retrying in %.0fs", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 60)

    async def poll_once(self, http: aiohttp.ClientSession) -> int:
        """One getUpdates call; returns how many updates were committed."""
        params: dict[str, Any] = {"timeout": self.timeout, "limit": self.limit}
        if self.offset is not None:
            params["offset"] = self.offset
        client_timeout = aiohttp.ClientTimeout(total=self.timeout + 10)
        async with http.post(self.url, json=params, timeout=client_timeout) as response:
            body = await response.json(content_type=None)
        if not body.get("ok"):
            raise RuntimeError(f"getUpdates: {body.get('error_code')} {body.get('description')}")
        updates = [u for u in body.get("result", []) if _valid(u)]
        if not updates:
            return 0
        async with self.sessions() as session:
            await admit(session, updates, chat_key=self.chat_key)
        # Only now is it safe to let Telegram forget them.
        self.offset = max(u["update_id"] for u in updates) + 1
        self.wakeup.set()
        return len(updates)


def _valid(update: object) -> bool:
    try:
        validate_update(update)
    except ValueError:
        log.warning("ignored a malformed update from getUpdates")
        return False
    return True
