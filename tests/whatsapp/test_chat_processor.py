"""Two chat processors at once (PostgreSQL: FOR UPDATE SKIP LOCKED) answer every WhatsApp
message once, each sender's in the order they were sent. (SQLite is one process and runs one.)"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from handlers.chats.processor import ChatProcessor
from storage.models import OutboxMessage, Tipster, WhatsAppInbound
from tests.fakes.whatsapp import payloads as wa
from tests.whatsapp.chats import whatsapp_line

SENDERS = [f"4477009001{n:02d}" for n in range(4)]


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


async def test_two_processors_answer_each_message_once_in_order_per_sender(line, sessions):
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims: PostgreSQL only (SQLite runs one processor)")
    fake = line.world.fake
    for text in ("a boy by the river", "yesterday", "near the bridge"):
        for sender in SENDERS:
            message = wa.message(fake.phone_number_id, sender, *wa.text(text))
            assert await fake.deliver(line.world.url, message) == 200
    handled: Counter[int] = Counter()

    class Counting(ChatProcessor):
        async def _handle(self, session, message, record, tipster_id) -> None:
            handled[message.id] += 1
            await asyncio.sleep(0.05)  # a slow flow: the other processor is looking meanwhile
            await super()._handle(session, message, record, tipster_id)

    first = line.processor
    processors = [
        Counting(sessions=sessions, transport=first.transport, services=first.services)
        for _ in range(2)
    ]
    for _ in range(20):
        if not sum(await asyncio.gather(*(p.run_once() for p in processors))):
            break
    async with sessions() as session:
        inbox = (await session.scalars(select(WhatsAppInbound))).all()
        replies = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        tipsters = (await session.scalars(select(Tipster))).all()
    assert {m.status for m in inbox} == {"processed"} and set(handled.values()) == {1}
    assert len(tipsters) == len(SENDERS)
    first_reply = {}
    for reply in replies:
        inbox_id = int(reply.idempotency_key.split(":")[1])
        first_reply.setdefault(inbox_id, reply.id)
    assert set(first_reply) == {m.id for m in inbox}  # every message answered
    for sender in {m.sender_key for m in inbox}:
        mine = sorted(m.id for m in inbox if m.sender_key == sender)
        assert sorted(mine, key=first_reply.__getitem__) == mine  # answered in order
