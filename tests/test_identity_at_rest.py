"""`tipline run` after a whole tip from a tipster who shared their contact, then stopped: the
identity is nowhere at rest but in the vault's ciphertext (every table and column, found by
reflection; on SQLite also the raw bytes of the file and its WAL). On SQLite and PostgreSQL.

Also: the database file is 0600 and var/ 0700.
"""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.vault import Vault
from storage.db import create_engine
from tests.databases import fresh_database
from tests.privacy_scan import Person, only_in_vault, scan_sqlite_files, scan_tables
from tests.processes import ROOT, TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until

PERSON = Person(
    user_id=6203918457,
    first_name="Xiuying",
    last_name="Brightwater",
    username="xb_sees_all",
    phone="+8613700001234",
)
CHAT = PERSON.user_id
USER = PERSON.user()


def _said(fake, needle: str) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: any(needle in t for t in fake.sent_texts(CHAT)), what=repr(needle))


def _press(fake, label: str) -> None:  # type: ignore[no-untyped-def]
    """Press a button of the bot's latest keyboard as the tipster (their own User object)."""
    message_id, buttons = fake.keyboard(CHAT)
    data = next(d for text, d in buttons if label.lower() in text.lower())
    fake.build("callback_query", chat_id=CHAT, message_id=message_id, data=data, user=USER)


def _whole_tip(fake) -> None:  # type: ignore[no-untyped-def]
    fake.build(
        "contact_message",
        chat_id=CHAT,
        phone_number=PERSON.phone,
        first_name=PERSON.first_name,
        last_name=PERSON.last_name,
        user=USER,
    )
    _said(fake, "kept")
    fake.build("text_message", chat_id=CHAT, text="Boy in a green cap at the bus depot", user=USER)
    _said(fake, "When")
    for label, answer in (
        ("I don't know", "Where"),
        ("Skip", "photos"),
        ("Skip", "message you"),
        ("Yes, you may message me", "check your report"),
        ("Send report", "sent"),
    ):
        count = len(fake.sent_texts(CHAT))
        _press(fake, label)
        wait_until(lambda c=count: len(fake.sent_texts(CHAT)) > c, what=f"answer to {label}")
    _said(fake, "Thank you")


def _run_and_stop(env: dict[str, str]) -> None:
    with fake_telegram("--no-rate-limit") as fake:
        env.update(TIPLINE_BOT_TOKEN=TOKEN, TIPLINE_TELEGRAM_API_BASE=fake.base_url)
        run = TiplineProcess(env)
        try:
            _whole_tip(fake)
        finally:
            run.stop()


async def _scan(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return await scan_tables(engine, PERSON.needles())
    finally:
        await engine.dispose()


def test_sqlite_after_a_whole_tip_holds_the_identity_only_in_the_vault(tmp_path: Path):
    env = tipline_env(tmp_path)
    _run_and_stop(env)
    database = Path(make_url(env["TIPLINE_DATABASE_URL"]).database or "")
    hits = asyncio.run(_scan(env["TIPLINE_DATABASE_URL"]))
    assert only_in_vault(hits) == []
    assert scan_sqlite_files(database, PERSON.needles()) == []
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_after_a_whole_tip_holds_the_identity_only_in_the_vault(tmp_path, backend):
    with fresh_database(backend, tmp_path) as url:
        env = tipline_env(tmp_path, TIPLINE_DATABASE_URL=url, TIPLINE_VAULT_KEY=Vault.new_key())
        upgraded = subprocess.run(
            [sys.executable, "-m", "tipline", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert upgraded.returncode == 0, upgraded.stderr
        _run_and_stop(env)
        assert only_in_vault(asyncio.run(_scan(url))) == []
