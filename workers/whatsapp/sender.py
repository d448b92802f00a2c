"""The WhatsApp sender for the relay: free-form inside the 24-hour window, templates outside.

Meta's errors, as outcomes:
- 131047 (re-engagement: the window closed): the payload's template goes instead, at once;
  without one the row is dead (retrying the same free-form message can never succeed);
- 130429 (throughput) and 131056 (too many messages to this person): flood, wait and retry;
- 5xx, network, 401/190 (our token): transient, retried with backoff, then dead;
- other 4xx: permanent.
Our own buckets keep under Meta's limits: a phone number's throughput overall, and the pace
of messages to one person (a flood outcome, so the relay holds that recipient back). With
`pace` (Redis, TIPLINE_REDIS_URL) they hold across every relay process; without, per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import Outcome, Outgoing, keep_external_id
from core.identity.tipsters import NoIdentity, address_on
from core.identity.vault import Vault, VaultKeyError
from core.whatsapp.admission import last_inbound, sender_key, window_open
from core.whatsapp.payloads import graph_body, graph_template
from core.whatsapp.replies import hold
from storage.photostore import MediaStore, PhotoCorruptError, PhotoNotFoundError
from storage.types import utcnow
from workers.buckets import Clock, TokenBucket
from workers.shared_buckets import SharedPace
from workers.whatsapp.graph import GraphClient, GraphError

log = logging.getLogger("tipline.outbox")
REENGAGEMENT, THROUGHPUT, PAIR_LIMIT = 131047, 130429, 131056
_TOKEN_ERRORS = {190}
# Meta's defaults: 80 messages/s per business number; to one person, about one every 6 s
# with a small burst (the pair rate limit, error 131056).
NUMBER_PER_SECOND, PAIR_PER_SECOND, PAIR_BURST = 80.0, 1 / 6, 3
MAX_PAIRS = 10_000
REDIS_PAUSE = 1.0


class Unreachable(Exception):
    """The recipient has no WhatsApp number on file, or the payload cannot go."""


class WhatsAppSender:
    """Sends `whatsapp` outbox rows through the Graph API and records each message id."""

    def __init__(
        self,
        *,
        graph: GraphClient,
        vault: Vault,
        sessions: async_sessionmaker[AsyncSession],
        display_store: MediaStore | None = None,
        clock: Clock = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
        number_per_second: float = NUMBER_PER_SECOND,
        pair_per_second: float = PAIR_PER_SECOND,
        pace: SharedPace | None = None,
    ) -> None:
        self.graph = graph
        self.vault = vault
        self.sessions = sessions
        self.display_store = display_store
        self.clock = clock
        self.wall = wall  # what time it is for the 24-hour window
        self._number = TokenBucket(rate=number_per_second, capacity=number_per_second, now=clock())
        self._number_rate = number_per_second
        self._pair_rate = pair_per_second
        self._pairs: dict[str, TokenBucket] = {}
        self.pace = pace

    async def send(self, message: Outgoing) -> Outcome:
        """Resolve the number, pick free-form or template, send, record the message id."""
        try:
            return await self._deliver(message)
        except Unreachable as exc:
            return Outcome.permanent(f"unreachable: {exc}")
        except VaultKeyError:
            return Outcome.transient("vault: the identity does not open with this key")
        except (PhotoNotFoundError, PhotoCorruptError):
            return Outcome.permanent("the display copy of the photo is missing or damaged")
        except GraphError as exc:
            return _outcome_of(exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome.transient(f"network: {type(exc).__name__}")

    async def _deliver(self, message: Outgoing) -> Outcome:
        phone = await self.phone(message.recipient)
        wait = await self._wait(message.recipient)
        if wait > 0:
            return Outcome.flood(wait)
        wamid = await self._send(message, phone)
        await keep_external_id(self.sessions, message.id, wamid)
        return Outcome.sent()

    async def phone(self, recipient: str) -> str:
        """A tipster's WhatsApp number, from the vault, at send time only."""
        try:
            return await address_on(self.sessions, self.vault, recipient, channel="whatsapp")
        except NoIdentity as exc:
            raise Unreachable(str(exc)) from None

    async def _wait(self, recipient: str) -> float:
        """Seconds before the next message may go to this person (0: now); takes the tokens."""
        if self.pace is not None:
            number = (f"number:{self.graph.phone_number_id}", self._number_rate, self._number_rate)
            pair = (f"pair:{recipient}", self._pair_rate, float(PAIR_BURST))
            try:
                return await self.pace.take([number, pair])
            except RedisError:  # the shared limits cannot be read: hold back, no attempt spent
                log.warning("whatsapp: the shared limits in Redis are unreachable")
                return REDIS_PAUSE
        return self._wait_here(recipient)

    def _wait_here(self, recipient: str) -> float:
        """`_wait` with this process's own buckets."""
        now = self.clock()
        pair = self._pairs.get(recipient)
        if pair is None:
            if len(self._pairs) >= MAX_PAIRS:  # forget people whose buckets refilled
                self._pairs = {k: b for k, b in self._pairs.items() if not b.idle(now)}
            pair = self._pairs[recipient] = TokenBucket(
                rate=self._pair_rate, capacity=PAIR_BURST, now=now
            )
        wait = max(self._number.wait(now), pair.wait(now))
        if wait <= 0:
            self._number.take(now)
            pair.take(now)
        return wait

    async def _send(self, message: Outgoing, phone: str) -> str:
        free, fallback = message.payload.get("free"), message.payload.get("template")
        if not isinstance(free, dict):
            raise Unreachable("a WhatsApp payload needs its free-form message")
        async with self.sessions() as session:
            last = await last_inbound(session, sender_key(self.vault, phone))
        if not window_open(last, now=self.wall()):
            if fallback is None:
                held = await self._hold(message, free)
                reason = "outside the 24-hour window, and no template"
                raise Unreachable(f"{reason}: held for the reply" if held else reason)
            return await self._template_instead(message, phone, free, fallback)
        try:
            return await self.graph.send(await self._free_body(phone, free))
        except GraphError as exc:
            if exc.code != REENGAGEMENT or fallback is None:
                raise
            log.info("whatsapp 131047 (window closed at Meta): sending the template instead")
            return await self._template_instead(message, phone, free, fallback)

    async def _template_instead(
        self, message: Outgoing, phone: str, free: dict[str, Any], fallback: dict[str, Any]
    ) -> str:
        """Send the template, and hold the free-form message until the person replies."""
        wamid = await self.graph.send(graph_template(phone, fallback))
        await self._hold(message, free)
        return wamid

    async def _hold(self, message: Outgoing, free: dict[str, Any]) -> bool:
        """Keep the free-form message for the person's reply (core/whatsapp/replies.py)."""
        try:
            async with self.sessions() as session:
                key, recipient = message.key, message.recipient
                held = await hold(session, key=key, recipient=recipient, free=free, now=utcnow())
                await session.commit()
        except Exception:  # noqa: BLE001 - only the held copy is lost, never the send's outcome
            log.warning("outbox %s: could not hold its message for the reply", message.id)
            return False
        return held

    async def _free_body(self, phone: str, free: dict[str, Any]) -> dict[str, Any]:
        if "display_sha256" not in free:
            return graph_body(phone, free)
        if self.display_store is None:
            raise Unreachable("no photo store to send images from")
        data = await asyncio.to_thread(self.display_store.get, free["display_sha256"])
        media_id = await self.graph.upload(data, "image/jpeg")
        return graph_body(phone, free, media_id=media_id)


def _outcome_of(exc: GraphError) -> Outcome:
    if exc.code == THROUGHPUT:
        return Outcome.flood(1.0)
    if exc.code == PAIR_LIMIT:
        return Outcome.flood(1 / PAIR_PER_SECOND)
    if exc.code == REENGAGEMENT:
        return Outcome.permanent("131047: outside the 24-hour window, and no template")
    if exc.status >= 500 or exc.status == 401 or exc.code in _TOKEN_ERRORS:
        return Outcome.transient(f"whatsapp {exc}")
    return Outcome.permanent(f"whatsapp {exc}")
