"""Send, then mark: a relay killed with SIGKILL at random moments loses nothing, and repeats at
most the messages that were between their send and their mark when it died."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.delivery.outbox import enqueue, telegram_text
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from tests.processes import ROOT, FakeTelegramProcess, fake_telegram, wait_until

MESSAGES = 300
CHATS = 60
KILLS = 15

pytestmark = pytest.mark.slow


class Relays:
    """Starts relay processes by asking a warm parent (tests/workers/relay_child.py) to fork."""

    def __init__(self) -> None:
        self.parent = subprocess.Popen(
            [sys.executable, "-m", "tests.workers.relay_child"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.parent.stdout is not None
        return self.parent.stdout.readline().strip()

    def start(self, database: str, api: str, **options: object) -> int:
        """A new relay process; returns its pid."""
        assert self.parent.stdin is not None
        self.parent.stdin.write(json.dumps({"database": database, "api": api, **options}) + "\n")
        self.parent.stdin.flush()
        return int(self._read())

    @staticmethod
    def stop(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal a relay and wait until it is gone."""
        os.kill(pid, sig)
        wait_until(lambda: not _alive(pid), timeout=30, what=f"relay {pid} to exit")

    def close(self) -> None:
        """Stop the parent."""
        self.parent.terminate()
        self.parent.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def relays() -> Iterator[Relays]:
    handle = Relays()
    yield handle
    handle.close()


async def _fill(url: str) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        for n in range(MESSAGES):
            key = f"crash-{n:03d}"
            await enqueue(
                session,
                channel="telegram",
                recipient=f"chat:{1 + n % CHATS}",
                payload=telegram_text(f"message {key}"),
                key=key,
            )
        await session.commit()
    await engine.dispose()


def _database(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "relay.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    asyncio.run(_fill(url))
    return url, path


def _unsent(path: Path) -> int:
    with sqlite3.connect(path) as db:
        query = "SELECT count(*) FROM outbox_messages WHERE status != 'sent'"
        return int(db.execute(query).fetchone()[0])


def _delivered(fake: FakeTelegramProcess) -> Counter[str]:
    calls = fake.control("calls?method=sendMessage")["calls"]
    return Counter(c["params"]["text"] for c in calls if c["status"] == 200)


def _calls(fake: FakeTelegramProcess) -> int:
    return int(fake.control("stats")["calls"])


def _drain(relays: Relays, url: str, path: Path, fake: FakeTelegramProcess, **options) -> None:
    pid = relays.start(url, fake.base_url, **options)
    try:
        wait_until(lambda: _unsent(path) == 0, timeout=120, what="every row sent")
    finally:
        relays.stop(pid, signal.SIGTERM)


def test_relay_killed_fifteen_times_loses_nothing_and_repeats_at_most_once_per_kill(
    relays, tmp_path
):
    url, path = _database(tmp_path)
    rng = random.Random(20240611)
    kills = 0
    # One message in flight at a time, so a kill interrupts at most one send-and-mark.
    options = {"max_in_flight": 1}
    with fake_telegram() as fake:
        while kills < KILLS and _unsent(path):
            before = _calls(fake)
            pid = relays.start(url, fake.base_url, **options)
            # Kill it while it sends: after its first call, at a random moment.
            wait_until(lambda: _calls(fake) > before, timeout=60, what="the relay to send")
            time.sleep(rng.uniform(0.0, 0.5))
            relays.stop(pid)
            kills += 1
        sent_under_fire = MESSAGES - _unsent(path)
        _drain(relays, url, path, fake, **options)
        delivered = _delivered(fake)
        stats = fake.control("stats")
    expected = {f"message crash-{n:03d}" for n in range(MESSAGES)}
    duplicates = sum(count - 1 for count in delivered.values())
    print(
        f"\nkills={kills} sent before the last run={sent_under_fire} duplicates={duplicates} "
        f"calls={stats['calls']} 429s={stats['status_429']}"
    )
    assert set(delivered) == expected  # nothing lost, nothing invented
    assert kills == KILLS
    assert duplicates <= kills


def test_relay_without_crashes_sends_each_message_exactly_once(relays, tmp_path):
    url, path = _database(tmp_path)
    with fake_telegram() as fake:
        _drain(relays, url, path, fake)
        delivered = _delivered(fake)
        stats = fake.control("stats")
    assert set(delivered) == {f"message crash-{n:03d}" for n in range(MESSAGES)}
    assert set(delivered.values()) == {1}
    assert stats["status_429"] == 0
