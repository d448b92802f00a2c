"""`tipline run` with the four WhatsApp settings answers Meta's handshake and admits a signed
message into its database; an unsigned one is refused."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsApp,
)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_healthy(proc: subprocess.Popen[str], base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if (await client.get(f"{base}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("tipline run did not become healthy")


async def test_tipline_run_admits_signed_whatsapp_messages(tmp_path: Path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeWhatsApp() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
        env |= {
            "TIPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tipline.db'}",
            "TIPLINE_VAR_DIR": str(tmp_path),
            "TIPLINE_MEDIA_DIR": str(tmp_path / "media"),
            "TIPLINE_WEB_PORT": str(port),
            "TIPLINE_FACES": "false",
            "TIPLINE_WHATSAPP_TOKEN": TOKEN,
            "TIPLINE_WHATSAPP_APP_SECRET": APP_SECRET,
            "TIPLINE_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "TIPLINE_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TIPLINE_WHATSAPP_API_BASE": fake.base_url,
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once; the fake needs this loop
            [sys.executable, "-m", "tipline", "run"],
            env=env,
            cwd=ROOT,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            await _wait_healthy(proc, base)
            url = f"{base}/whatsapp/webhook"
            params = {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "42",
            }
            async with httpx.AsyncClient() as client:
                assert (await client.get(url, params=params)).text == "42"
            message = wa.message(PHONE_NUMBER_ID, "447700900123", *wa.text("seen at the bus stop"))
            assert await fake.deliver(url, message) == 200
            assert await fake.deliver(url, message, sign=False) == 401
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    with sqlite3.connect(tmp_path / "tipline.db") as db:
        rows = db.execute("SELECT kind, sender_key FROM whatsapp_inbox").fetchall()
    assert len(rows) == 1 and rows[0][0] == "text"
    assert "447700900123" not in rows[0][1]
