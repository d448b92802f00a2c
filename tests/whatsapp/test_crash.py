"""SIGKILL `tipline run` while signed WhatsApp webhooks pour in (and the chat processor answers
them): every message answered 200 was committed, after a restart Meta's redeliveries (of the
unanswered and the answered alike) leave each message exactly once, and every message is
answered, its replies in the outbox once."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiohttp

from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import (
    PHONE_NUMBER_ID,
    FakeWhatsApp,
)
from tests.processes import TiplineProcess
from tests.whatsapp.world import whatsapp_env

MESSAGES = 400
CONCURRENCY = 32


def _admitted(db: Path) -> list[str]:
    return [row[0] for row in _rows(db, "SELECT message_id FROM whatsapp_inbox")]


async def _all_answered(db: Path) -> None:
    """Wait until every message is processed; then each has its first reply in the outbox."""
    deadline = time.monotonic() + 120
    query = "SELECT count(*) FROM whatsapp_inbox WHERE status != 'processed'"
    while _rows(db, query) != [(0,)]:
        assert time.monotonic() < deadline, _rows(db, query)
        await asyncio.sleep(0.2)
    keys = {key for (key,) in _rows(db, "SELECT idempotency_key FROM outbox_messages")}
    ids = [row_id for (row_id,) in _rows(db, "SELECT id FROM whatsapp_inbox")]
    assert [i for i in ids if f"whatsapp-reply:{i}:1" not in keys] == []


def _rows(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


async def _deliver_all(
    fake: FakeWhatsApp,
    url: str,
    payloads: list[dict],
    answered: set[str],
    quarter: asyncio.Event | None = None,
) -> None:
    """Post every payload (CONCURRENCY at a time); remember the message ids answered 200, and
    set `quarter` once a quarter of them were."""
    queue = iter(payloads)

    async def lane() -> None:
        for payload in queue:
            wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            try:
                if await fake.deliver(url, payload) == 200:
                    answered.add(wamid)
                    if quarter is not None and len(answered) >= MESSAGES // 4:
                        quarter.set()
            except (aiohttp.ClientError, OSError):
                pass  # the process is gone: Meta would retry this one later

    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))


async def test_whatsapp_admission_and_answers_survive_sigkill_exactly_once(tmp_path: Path):
    async with FakeWhatsApp() as fake:
        env = whatsapp_env(tmp_path, fake)
        url = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/whatsapp/webhook"
        payloads = [
            wa.message(PHONE_NUMBER_ID, str(447700900000 + i % 50), *wa.text(f"m{i}"))
            for i in range(MESSAGES)
        ]
        run = await asyncio.to_thread(TiplineProcess, env)
        answered: set[str] = set()
        try:
            quarter = asyncio.Event()
            pouring = asyncio.create_task(_deliver_all(fake, url, payloads, answered, quarter))
            await asyncio.wait(
                [asyncio.create_task(quarter.wait()), pouring],
                return_when=asyncio.FIRST_COMPLETED,
            )
            await asyncio.to_thread(run.kill)
            await pouring
            before_restart = set(answered)
            assert 0 < len(before_restart) < MESSAGES, "the kill must land mid-stream"
            assert before_restart <= set(_admitted(tmp_path / "tipline.db"))  # 200 = committed
            run = await asyncio.to_thread(TiplineProcess, env)
            answered.clear()
            await _deliver_all(fake, url, payloads, answered)  # Meta redelivers everything
            assert len(answered) == MESSAGES
            await _all_answered(tmp_path / "tipline.db")
        finally:
            await asyncio.to_thread(run.stop)
    admitted = _admitted(tmp_path / "tipline.db")
    assert len(admitted) == len(set(admitted)) == MESSAGES
