"""Two SMS senders (two relay processes) sharing one real Redis keep the pace to one person
together; each on its own buckets, they would send twice the burst. Against the fake
provider, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from core.delivery.outbox import Outgoing, tipster_recipient
from core.identity.tipsters import get_or_create_tipster
from core.sms import payloads
from tests.fakes.sms.server import FakeSms
from tests.keys import TEST_VAULT
from tests.redis_server import two_paces
from workers.shared_buckets import SharedPace
from workers.sms.rest import SmsClient
from workers.sms.sender import RECIPIENT_BURST, SmsSender

PHONE = "+8613800006666"
TRIES = 3  # per sender
FAST = 100.0  # our number's pace out of the way: the person's is the one under test


@pytest.fixture
async def paces() -> AsyncIterator[list[SharedPace]]:
    """Two processes' limits on one Redis."""
    async with two_paces("sms") as paces:
        yield paces


@pytest.fixture
async def fake() -> AsyncIterator[FakeSms]:
    async with FakeSms() as fake:
        yield fake


async def _send_alternately(fake: FakeSms, sessions, paces: list[SharedPace | None]) -> list[str]:
    """Each sender tries TRIES texts to the same person, taking turns; the outcomes."""
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session, TEST_VAULT, channel="sms", external_id=PHONE, identity={}, language="en"
        )
    recipient = tipster_recipient(tipster.id)
    async with aiohttp.ClientSession() as http:
        client = SmsClient(
            http,
            base=fake.base_url,
            account_sid=fake.account_sid,
            auth_token=fake.auth_token,
            sender=fake.number,
        )
        senders = [
            SmsSender(
                client=client,
                vault=TEST_VAULT,
                sessions=sessions,
                number_per_second=FAST,
                shared=pace,
            )
            for pace in paces
        ]
        outcomes = []
        for n in range(TRIES * len(senders)):
            message = Outgoing(n + 1, f"p{n}", "sms", recipient, payloads.text(f"update {n}"), 0)
            outcomes.append((await senders[n % len(senders)].send(message)).kind)
    return outcomes


async def test_two_senders_sharing_redis_keep_one_persons_pace_together(fake, sessions, paces):
    outcomes = await _send_alternately(fake, sessions, list(paces))
    keys = [key async for key in paces[0].redis.scan_iter(match=f"{paces[0].prefix}*")]
    assert keys and all(key.startswith(paces[0].prefix.encode()) for key in keys)
    assert not [key for key in keys if PHONE[1:].encode() in key]  # names carry no number
    assert outcomes.count("sent") == RECIPIENT_BURST == len(fake.sends)
    assert outcomes.count("flood") == 2 * TRIES - RECIPIENT_BURST


async def test_without_redis_each_sender_keeps_its_own_pace(fake, sessions):
    outcomes = await _send_alternately(fake, sessions, [None, None])
    assert outcomes.count("sent") == 2 * RECIPIENT_BURST == len(fake.sends)
