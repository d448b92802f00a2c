"""`tipline run` with WhatsApp on answers people: a whole tip with a place and a photo, from the
first message through the buttons to Send, stored once with its sanitised photo, the replies
arriving at the fake Graph API through the relay (at Meta's pace for one person)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from core.i18n import Texts
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import (
    PHONE_NUMBER_ID,
    FakeWhatsApp,
    Send,
)
from tests.processes import TiplineProcess
from tests.whatsapp.chats import jpeg, tap
from tests.whatsapp.world import whatsapp_env

PHONE = "447700900123"
EN = Texts("en", "chat")
WAIT = 90.0


async def _reply(fake: FakeWhatsApp, count: int) -> Send:
    """The reply that makes `count` replies (the relay paces them, one every few seconds)."""
    deadline = time.monotonic() + WAIT
    while len(fake.sends) < count:
        assert time.monotonic() < deadline, f"no reply {count}: {[s.type for s in fake.sends]}"
        await asyncio.sleep(0.1)
    return fake.sends[count - 1]


def _db_rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


async def test_tipline_run_takes_a_whole_tip_on_whatsapp(tmp_path: Path):
    async with FakeWhatsApp() as fake:
        env = whatsapp_env(tmp_path, fake)
        url = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/whatsapp/webhook"
        run = await asyncio.to_thread(TiplineProcess, env)
        count = 0

        async def says(kind: str, body: object) -> Send:
            nonlocal count
            assert await fake.deliver(url, wa.message(PHONE_NUMBER_ID, PHONE, kind, body)) == 200
            count += 1
            return await _reply(fake, count)

        async def taps(reply: Send, label: str) -> Send:
            return await says(*tap(reply, label))

        try:
            when = await says(*wa.text("A girl in a red coat with a man, crying"))
            where = await taps(when, EN("button.when_now"))
            media = await says(*wa.location(34.2658, 108.9541, "Xi'an Railway Station"))
            assert where.type == "interactive" and "Place saved" in str(media.body)
            counted = await says(*wa.image(fake.add_media(jpeg(4)), "pink backpack"))
            contact = await taps(counted, EN("button.done"))
            summary = await taps(contact, EN("button.contact_no"))
            sent = await taps(summary, EN("button.send"))
            db = tmp_path / "tipline.db"
            ((ref, lat),) = _db_rows(db, "SELECT ref, lat FROM tips")
            assert sent.body["text"]["body"] == EN("report.sent", ref=ref)
            assert abs(lat - 34.2658) < 1e-6
            deadline = time.monotonic() + WAIT
            while _db_rows(db, "SELECT status FROM tip_photos") != [("processed",)]:
                assert time.monotonic() < deadline, _db_rows(db, "SELECT * FROM tip_photos")
                await asyncio.sleep(0.2)
            assert _db_rows(db, "SELECT DISTINCT status FROM whatsapp_inbox") == [("processed",)]
        finally:
            await asyncio.to_thread(run.stop)
