"""Two WhatsApp senders (two relay processes) sharing one real Redis keep Meta's pace to one
person together; each on its own buckets, they would send twice the burst. Against the fake
Graph API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from core.delivery.outbox import Outgoing, tipster_recipient
from core.delivery.people import Notice, Template, whatsapp_parts
from core.identity.tipsters import get_or_create_tipster
from core.whatsapp.payloads import TIPSTER_NOTICE
from tests.fakes.whatsapp.server import FakeWhatsApp
from tests.keys import TEST_VAULT
from tests.redis_server import two_paces
from workers.shared_buckets import SharedPace
from workers.whatsapp.graph import GraphClient
from workers.whatsapp.sender import PAIR_BURST, WhatsAppSender

PHONE = "8613800005555"
SLOW = 1 / 600  # a token every 10 minutes: nothing refills while the test runs
TRIES = 4  # per sender


@pytest.fixture
async def paces() -> AsyncIterator[list[SharedPace]]:
    """Two processes' limits on one Redis."""
    async with two_paces("wa") as paces:
        yield paces


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as fake:
        yield fake


async def _recipient(sessions) -> str:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session, TEST_VAULT, channel="whatsapp", external_id=PHONE, identity={}, language="en"
        )
    return tipster_recipient(tipster.id)


def _message(recipient: str, n: int) -> Outgoing:
    text = f"Update {n} about your tip"
    notice = Notice(text, "en", template=Template.of(TIPSTER_NOTICE, text))
    ((_, payload),) = whatsapp_parts(notice)
    return Outgoing(n, f"pace-{n}", "whatsapp", recipient, payload, 0)


async def _send_alternately(
    fake: FakeWhatsApp, sessions, paces: list[SharedPace | None]
) -> list[str]:
    """Each sender tries TRIES messages to the same person, taking turns; the outcomes."""
    recipient = await _recipient(sessions)
    async with aiohttp.ClientSession() as http:
        senders = [
            WhatsAppSender(
                graph=GraphClient(
                    http,
                    base=fake.base_url,
                    token=fake.token,
                    phone_number_id=fake.phone_number_id,
                ),
                vault=TEST_VAULT,
                sessions=sessions,
                pair_per_second=SLOW,
                pace=pace,
            )
            for pace in paces
        ]
        outcomes = []
        for n in range(TRIES * len(senders)):
            outcome = await senders[n % len(senders)].send(_message(recipient, n + 1))
            outcomes.append(outcome.kind)
    return outcomes


async def test_two_senders_sharing_redis_keep_one_persons_pace_together(fake, sessions, paces):
    outcomes = await _send_alternately(fake, sessions, list(paces))
    keys = [key async for key in paces[0].redis.scan_iter(match=f"{paces[0].prefix}*")]
    assert keys and not [key for key in keys if PHONE.encode() in key]
    assert outcomes.count("sent") == PAIR_BURST == len(fake.sends)
    assert outcomes.count("flood") == 2 * TRIES - PAIR_BURST


async def test_without_redis_each_sender_keeps_its_own_pace(fake, sessions):
    outcomes = await _send_alternately(fake, sessions, [None, None])
    assert outcomes.count("sent") == 2 * PAIR_BURST == len(fake.sends)
