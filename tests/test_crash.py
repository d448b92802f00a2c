"""SIGKILL between receiving and finishing an update: after a restart the tip is there once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.processes import TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until

CHAT = 7007
DESCRIPTION = "Boy about 5 in a yellow raincoat, crying, with an older woman"


def _tips(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT ref, text FROM tips").fetchall()


def _pending(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT count(*) FROM inbox_updates WHERE status = 'pending'")
        return int(row.fetchone()[0])


def _env(tmp_path: Path, fake, mode: str) -> dict[str, str]:
    env = tipline_env(tmp_path, TIPLINE_BOT_TOKEN=TOKEN, TIPLINE_TELEGRAM_API_BASE=fake.base_url)
    if mode == "webhook":
        env["TIPLINE_WEBHOOK_URL"] = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/telegram/webhook"
        env["TIPLINE_WEBHOOK_SECRET"] = "k" * 40
        fake.control("webhook", None)  # the fake is up
        fake.http.post(
            f"/bot{TOKEN}/setWebhook",
            json={"url": env["TIPLINE_WEBHOOK_URL"], "secret_token": env["TIPLINE_WEBHOOK_SECRET"]},
        ).raise_for_status()
    return env


def _texts(fake) -> list[str]:
    return fake.sent_texts(CHAT)


def _wait_text(fake, needle: str, count: int = 1) -> None:
    wait_until(lambda: sum(needle in t for t in _texts(fake)) >= count, what=repr(needle))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_tip_survives_sigkill_mid_update_exactly_once(tmp_path: Path, mode: str):
    db = tmp_path / "tipline.db"
    with fake_telegram("--no-rate-limit") as fake:
        env = _env(tmp_path, fake, mode)
        run = TiplineProcess(env)
        try:
            fake.build("command", chat_id=CHAT, command="start")
            _wait_text(fake, "missing child")
            fake.press(CHAT, "Report a sighting")
            _wait_text(fake, "What did you see?")
            # Crash 1: the bot hangs on its reply to the description, then dies.
            fake.control("timeout_next", {"method": "sendMessage", "seconds": 120})
            fake.build("text_message", chat_id=CHAT, text=DESCRIPTION)
            wait_until(lambda: _pending(db) == 1, what="the description admitted")
            run.kill()
            run = TiplineProcess(env)
            _wait_text(fake, "When did you see this?")
            fake.press(CHAT, "Now")
            _wait_text(fake, "Where did you see this?")
            fake.build("text_message", chat_id=CHAT, text="Xi'an")
            _wait_text(fake, "Place saved")
            fake.press(CHAT, "Skip")
            _wait_text(fake, "May we contact you")
            fake.press(CHAT, "No, keep me anonymous")
            _wait_text(fake, "Please check your report")
            # Crash 2: the tip is committed, the reference reply hangs, the process dies.
            fake.control("timeout_next", {"method": "sendMessage", "seconds": 120})
            fake.press(CHAT, "Send report")
            wait_until(lambda: _tips(db), what="the tip committed")
            run.kill()
            run = TiplineProcess(env)
            _wait_text(fake, "Reference:")
            tips = _tips(db)
            assert len(tips) == 1
            ref, text = tips[0]
            assert text == DESCRIPTION  # the description was applied once, not twice
            assert any(f"Reference: {ref}" in t for t in _texts(fake))
            wait_until(lambda: _pending(db) == 0, what="the inbox drained")
        finally:
            run.stop()
