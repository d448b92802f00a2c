"""SIGKILL `tipline run` while signed WhatsApp webhooks pour in: every message answered 200
was committed, and after a restart Meta's redeliveries (of the unanswered and the answered
alike) leave each message exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
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
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT message_id FROM whatsapp_inbox")]


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


async def test_whatsapp_admission_survives_sigkill_exactly_once(tmp_path: Path):
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
        finally:
            await asyncio.to_thread(run.stop)
    admitted = _admitted(tmp_path / "tipline.db")
    assert len(admitted) == len(set(admitted)) == MESSAGES
