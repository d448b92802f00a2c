"""Relay processes for crash tests, forked from a warm parent.

`python -m tests.workers.relay_child` imports everything once (aiogram alone costs seconds of
CPU), prints `ready`, then reads one JSON object per line (database, api, lease, max_in_flight),
forks a relay for it and prints the child's pid. Each child sends `chat:<id>` rows through the
real TelegramSender and aiogram Bot until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.factory import create_bot
from bot.sender import TelegramSender
from core.identity.vault import Vault
from storage.db import create_engine, create_sessionmaker
from storage.photostore import PhotoStore
from tests.processes import TOKEN
from workers.relay import Relay


async def relay(database: str, api: str, lease: float = 3.0, max_in_flight: int = 64) -> None:
    """Run a relay until killed (short timeouts and lease: a killed relay's rows come back soon)."""
    engine = create_engine(database)
    sessions = create_sessionmaker(engine)
    bot = create_bot(token=TOKEN, api_base=api, timeout=1)
    sender = TelegramSender(
        bot=bot,
        vault=Vault(Vault.new_key()),
        sessions=sessions,
        display_store=PhotoStore(Path(tempfile.mkdtemp())),
    )
    await Relay(
        sessions=sessions,
        senders={"telegram": sender},
        lease=lease,
        send_timeout=1.5,
        max_in_flight=max_in_flight,
    ).run_forever()


def _child(options: dict[str, Any]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        asyncio.run(relay(**options))
    finally:
        os._exit(0)


def main() -> None:
    """Fork a relay per line read; children are reaped automatically."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    while line := sys.stdin.readline():
        options = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(options)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
