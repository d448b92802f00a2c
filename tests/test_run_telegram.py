"""`tipline run` with a token talks to a Bot API server in polling and in webhook mode."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import ROOT, TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until

CHAT = 5551


def test_polling_mode_answers_start_through_the_inbox(tmp_path):
    with fake_telegram("--no-rate-limit") as fake:
        env = tipline_env(
            tmp_path, TIPLINE_BOT_TOKEN=TOKEN, TIPLINE_TELEGRAM_API_BASE=fake.base_url
        )
        run = TiplineProcess(env)
        try:
            fake.build("command", chat_id=CHAT, command="start")
            texts = wait_until(lambda: fake.sent_texts(CHAT), what="the bot's greeting")
            assert "missing child" in texts[0]
        finally:
            run.stop()


def test_webhook_mode_needs_a_long_secret_and_then_answers(tmp_path):
    with fake_telegram("--no-rate-limit") as fake:
        env = tipline_env(
            tmp_path, TIPLINE_BOT_TOKEN=TOKEN, TIPLINE_TELEGRAM_API_BASE=fake.base_url
        )
        env["TIPLINE_WEBHOOK_URL"] = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/telegram/webhook"
        env["TIPLINE_WEBHOOK_SECRET"] = "too-short"
        refused = subprocess.run(
            [sys.executable, "-m", "tipline", "run"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 2 and "at least 32" in refused.stderr
        env["TIPLINE_WEBHOOK_SECRET"] = "w" * 40
        setup = subprocess.run(
            [sys.executable, "-m", "tipline", "webhook", "set"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert setup.returncode == 0, setup.stderr
        assert fake.control("webhook")["secret_token"] == "w" * 40
        run = TiplineProcess(env)
        try:
            fake.build("command", chat_id=CHAT, command="start")
            texts = wait_until(lambda: fake.sent_texts(CHAT), what="the bot's greeting")
            assert "missing child" in texts[0]
        finally:
            run.stop()
