"""The SMS sender for the relay: one text per outbox row, through a Twilio-compatible API.

Outcomes:
- a number that texted STOP (our record, or the provider's 21610): permanent, with the reason,
  and the opt-out is recorded; nothing is sent to it until START;
- 429 / 20429 (too many requests): flood, wait (Retry-After when given) and retry;
- 5xx, network, 401 / 20003 (our credentials): transient, retried with backoff, then dead;
- 21211 (not a valid number) and every other 4xx: permanent, with the provider's reason.
Our number's pace is kept on our side too: the provider queues what goes faster than the
number may send, and a queue there is a delay nobody sees. With `shared` (Redis,
TIPLINE_REDIS_URL) the pace holds across every relay process; without, per process.
"""

from __future__ import annotations

import logging
import time

import aiohttp
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import Outcome, Outgoing, keep_external_id
from core.identity.tipsters import NoIdentity, address_on
from core.identity.vault import Vault, VaultKeyError
from core.sms.admission import opted_out, sender_key, set_opted_out
from core.sms.webhook import MAX_BODY, UNSUBSCRIBED
from workers.buckets import Clock, Pace
from workers.shared_buckets import SharedPace
from workers.sms.rest import DEFAULT_RETRY_AFTER, SmsApiError, SmsClient

INVALID_NUMBER, TOO_MANY, BAD_CREDENTIALS = 21211, 20429, 20003
# A long code sends about one message a second; to one person, a reply and a follow-up may
# go together, then one every 2 s.
NUMBER_PER_SECOND, RECIPIENT_PER_SECOND, RECIPIENT_BURST = 1.0, 0.5, 2
REDIS_PAUSE = 1.0
log = logging.getLogger("tipline.outbox")


class Unreachable(Exception):
    """The recipient has no SMS number on file, or the payload cannot go."""


class SmsSender:
    """Sends `sms` outbox rows and records each message's SID."""

    def __init__(
        self,
        *,
        client: SmsClient,
        vault: Vault,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = time.monotonic,
        number_per_second: float = NUMBER_PER_SECOND,
        shared: SharedPace | None = None,
    ) -> None:
        self.client = client
        self.vault = vault
        self.sessions = sessions
        self.shared = shared
        self._number_rate = number_per_second
        self._pace = Pace(
            number_per_second=number_per_second,
            recipient_per_second=RECIPIENT_PER_SECOND,
            recipient_burst=RECIPIENT_BURST,
            clock=clock,
        )

    async def send(self, message: Outgoing) -> Outcome:
        """Open the number, check it did not opt out, send, record the SID."""
        try:
            return await self._deliver(message)
        except Unreachable as exc:
            return Outcome.permanent(f"unreachable: {exc}")
        except VaultKeyError:
            return Outcome.transient("vault: the identity does not open with this key")
        except SmsApiError as exc:
            return await self._refused(message, exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome.transient(f"network: {type(exc).__name__}")

    async def _deliver(self, message: Outgoing) -> Outcome:
        body = message.payload.get("text")
        if not isinstance(body, str) or not 1 <= len(body) <= MAX_BODY:
            raise Unreachable(f"an SMS payload needs a text of 1..{MAX_BODY} characters")
        try:
            phone = await address_on(self.sessions, self.vault, message.recipient, channel="sms")
        except NoIdentity as exc:
            raise Unreachable(str(exc)) from None
        async with self.sessions() as session:
            if await opted_out(session, sender_key(self.vault, phone)):
                return Outcome.permanent("opted out: the number texted STOP")
        wait = await self._wait(message.recipient)
        if wait > 0:
            return Outcome.flood(wait)
        sid = await self.client.send(phone, body)
        await keep_external_id(self.sessions, message.id, sid)
        return Outcome.sent()

    async def _wait(self, recipient: str) -> float:
        """Seconds before the next text may go to this person (0: now); takes the tokens."""
        if self.shared is None:
            return self._pace.wait(recipient)
        number = ("number", self._number_rate, max(1.0, self._number_rate))
        pair = (f"pair:{recipient}", RECIPIENT_PER_SECOND, float(RECIPIENT_BURST))
        try:
            return await self.shared.take([number, pair])
        except RedisError:  # the shared limits cannot be read: hold back, no attempt spent
            log.warning("sms: the shared limits in Redis are unreachable")
            return REDIS_PAUSE

    async def _refused(self, message: Outgoing, exc: SmsApiError) -> Outcome:
        if exc.code == UNSUBSCRIBED:
            await self._opt_out(message.recipient)
            return Outcome.permanent(f"opted out: {exc}")
        if exc.status == 429 or exc.code == TOO_MANY:
            return Outcome.flood(exc.retry_after or DEFAULT_RETRY_AFTER)
        if exc.status >= 500 or exc.status == 401 or exc.code == BAD_CREDENTIALS:
            return Outcome.transient(f"sms {exc}")
        return Outcome.permanent(f"sms {exc}")

    async def _opt_out(self, recipient: str) -> None:
        """The provider says the number unsubscribed: record it, so nothing more is tried."""
        phone = await address_on(self.sessions, self.vault, recipient, channel="sms")
        async with self.sessions() as session:
            await set_opted_out(session, sender_key(self.vault, phone), opted_out=True)
            await session.commit()
