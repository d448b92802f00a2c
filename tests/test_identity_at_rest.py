"""`tipline run` after a whole tip from a tipster who shared their contact, and a /newcase a
family left after sharing their contact card, then stopped: neither identity is anywhere at rest
but in the vault's ciphertext (every table and column, found by reflection; on SQLite also the
raw bytes of the file and its WAL). On SQLite and PostgreSQL, and with the conversation state in
Redis (every key and value there too).

Also: the database file is 0600 and var/ 0700.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core.identity.vault import Vault
from storage.db import create_engine
from storage.models import FsmState
from tests.databases import fresh_database
from tests.privacy_scan import Person, only_in_vault, scan_sqlite_files, scan_tables
from tests.processes import ROOT, TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until
from tests.redis_server import REDIS_URL, dump, hits, require_redis

PERSON = Person(
    user_id=6203918457,
    first_name="Xiuying",
    last_name="Brightwater",
    username="xb_sees_all",
    phone="+8613700001234",
)
CHAT = PERSON.user_id
USER = PERSON.user()
FAMILY = Person(
    user_id=5820374619,
    first_name="Meilan",
    last_name="Thornquist",
    username="meilan_looks",
    phone="+8613811112222",
)
NEEDLES = PERSON.needles() + FAMILY.needles()


def _said(fake, needle: str, chat: int = CHAT) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: any(needle in t for t in fake.sent_texts(chat)), what=repr(needle))


def _press(fake, label: str, person: Person = PERSON) -> None:  # type: ignore[no-untyped-def]
    """Press a button of the bot's latest keyboard as that person (their own User object)."""
    chat = person.user_id
    message_id, buttons = fake.keyboard(chat)
    data = next(d for text, d in buttons if label.lower() in text.lower())
    fake.build("callback_query", chat_id=chat, message_id=message_id, data=data, user=person.user())


def _answered(fake, chat: int, count: int, what: str) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: len(fake.sent_texts(chat)) > count, what=f"answer to {what}")


def _share_contact(fake, person: Person) -> None:  # type: ignore[no-untyped-def]
    """Share one's own contact card, as Telegram's button sends it."""
    fake.build(
        "contact_message",
        chat_id=person.user_id,
        phone_number=person.phone,
        first_name=person.first_name,
        last_name=person.last_name,
        user=person.user(),
    )


def _whole_tip(fake) -> None:  # type: ignore[no-untyped-def]
    _share_contact(fake, PERSON)
    _said(fake, "kept")
    fake.build("text_message", chat_id=CHAT, text="Boy in a green cap at the bus depot", user=USER)
    _said(fake, "When")
    for label in ("I don't know", "Skip", "Skip", "Yes, you may message me", "Send report"):
        count = len(fake.sent_texts(CHAT))
        _press(fake, label)
        _answered(fake, CHAT, count, label)
    _said(fake, "Thank you")


def _newcase_left_after_the_contact(fake) -> None:  # type: ignore[no-untyped-def]
    """A family starts /newcase, shares their contact card at its step, and goes no further."""
    chat, user = FAMILY.user_id, FAMILY.user()
    fake.build("command", chat_id=chat, command="newcase", user=user)
    _said(fake, "Register a case", chat)
    _press(fake, "A missing child", FAMILY)
    _said(fake, "full name", chat)
    fake.build("text_message", chat_id=chat, text="Lan Xiaoyu", user=user)
    _said(fake, "nicknames", chat)
    steps = ["Skip"] * 5 + ["I don't know", "Skip", "Skip", "I don't have one yet"]
    for label in steps:
        count = len(fake.sent_texts(chat))
        _press(fake, label, FAMILY)
        _answered(fake, chat, count, label)
    _said(fake, "reach you", chat)
    _share_contact(fake, FAMILY)
    _said(fake, "photos at different ages help", chat)


def _run_and_stop(env: dict[str, str]) -> None:
    with fake_telegram("--no-rate-limit") as fake:
        env.update(TIPLINE_BOT_TOKEN=TOKEN, TIPLINE_TELEGRAM_API_BASE=fake.base_url)
        run = TiplineProcess(env)
        try:
            _whole_tip(fake)
            _newcase_left_after_the_contact(fake)
        finally:
            run.stop()


async def _scan(url: str, *, states: bool = True) -> list[str]:
    """The scan of every table (`states`: the conversation state is in the database)."""
    engine = create_engine(url)
    try:
        if states:
            await _assert_the_case_is_left_in_progress(engine)
        return await scan_tables(engine, NEEDLES)
    finally:
        await engine.dispose()


async def _assert_the_case_is_left_in_progress(engine) -> None:  # type: ignore[no-untyped-def]
    """The family's /newcase waits at the photo step, its contact sealed (so the scan counts)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(FsmState.state, FsmState.data))).all()
    [data] = [row.data for row in rows if row.state == "NewCase:photos"]
    _assert_sealed(data)


def _assert_sealed(data: dict[str, Any]) -> None:
    assert data["newcase"]["contact"].startswith("vault:")
    assert data["newcase"]["contact_hint"] == "•••22"


async def _redis_after(prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    """(this run's keys and values, every key and value in the test Redis); the run's keys
    are removed after they are read."""
    client = Redis.from_url(REDIS_URL)
    try:
        ours, everything = await dump(client, f"{prefix}*"), await dump(client, "*")
        if ours:
            await client.delete(*ours)
    finally:
        await client.aclose()
    return ours, everything


def test_sqlite_after_a_whole_tip_holds_the_identity_only_in_the_vault(tmp_path: Path):
    env = tipline_env(tmp_path)
    _run_and_stop(env)
    database = Path(make_url(env["TIPLINE_DATABASE_URL"]).database or "")
    hits = asyncio.run(_scan(env["TIPLINE_DATABASE_URL"]))
    assert only_in_vault(hits) == []
    assert scan_sqlite_files(database, NEEDLES) == []
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


def test_with_redis_a_half_finished_newcase_there_holds_no_plain_contact(tmp_path: Path):
    asyncio.run(require_redis())
    prefix = f"t{secrets.token_hex(4)}:"
    env = tipline_env(tmp_path, TIPLINE_REDIS_URL=REDIS_URL, TIPLINE_REDIS_PREFIX=prefix)
    _run_and_stop(env)
    ours, everything = asyncio.run(_redis_after(prefix))
    [state] = [name for name, value in ours.items() if value == "NewCase:photos"]
    _assert_sealed(json.loads(ours[state.removesuffix(":state") + ":data"]))
    assert hits(everything, NEEDLES) == []
    assert only_in_vault(asyncio.run(_scan(env["TIPLINE_DATABASE_URL"], states=False))) == []
