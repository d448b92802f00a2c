"""The restore drill, on SQLite and PostgreSQL: tips with photos made through the bot, backed up,
wiped, restored; `tipline db check` passes and every original matches its packet's SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.delivery.packets import build_packet, read_files
from core.identity.vault import Vault
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Tip, TipPhoto
from storage.photostore import open_photo_stores
from tests.databases import _admin, fresh_database
from tests.multiprocess import SECRET, Driver, noisy_jpeg
from tests.processes import TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until
from tests.test_cli import assert_clean_failure, tipline

CHATS = 3  # the first two send a photo


async def _converse(fake_url: str, web: str) -> None:
    driver = Driver(fake_url, [web + "/telegram/webhook"])
    tail = asyncio.create_task(driver.tail())
    try:
        await asyncio.gather(
            *(driver.converse(720_000 + n, noisy_jpeg(n) if n < 2 else None) for n in range(CHATS))
        )
    finally:
        tail.cancel()
        await driver.close()


async def _snapshot(env: dict[str, str]) -> dict[str, Any]:
    """Tips, photos and, per tip, each packet file's SHA-256 as read back from the store."""
    engine = create_engine(env["TIPLINE_DATABASE_URL"])
    stores = open_photo_stores(Path(env["TIPLINE_MEDIA_DIR"]))
    try:
        async with create_sessionmaker(engine)() as session:
            tips = (await session.scalars(select(Tip).order_by(Tip.ref))).all()
            photos = (await session.scalars(select(TipPhoto.status))).all()
            packets = {}
            for tip in tips:
                document = await build_packet(
                    session, tip=tip, packet_id="drill", generated_at=datetime.now(UTC)
                )
                files = await asyncio.to_thread(read_files, document, stores)
                packets[tip.ref] = [
                    (f.sha256, f.problem, f.data and hashlib.sha256(f.data).hexdigest())
                    for f in files
                ]
            return {"tips": [(t.ref, t.text) for t in tips], "photos": photos, "packets": packets}
    finally:
        await engine.dispose()


def _wipe(env: dict[str, str], backend: str) -> None:
    url = env["TIPLINE_DATABASE_URL"]
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
    else:
        name = url.rsplit("/", 1)[1]
        asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    shutil.rmtree(env["TIPLINE_MEDIA_DIR"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_restore_drill_brings_back_tips_and_originals(tmp_path: Path, backend: str) -> None:
    with fresh_database(backend, tmp_path) as url, fake_telegram("--no-rate-limit") as fake:
        env = tipline_env(
            tmp_path,
            TIPLINE_DATABASE_URL=url,
            TIPLINE_BOT_TOKEN=TOKEN,
            TIPLINE_TELEGRAM_API_BASE=fake.base_url,
            TIPLINE_WEBHOOK_URL="https://tipline.example.org/telegram/webhook",
            TIPLINE_WEBHOOK_SECRET=SECRET,
            TIPLINE_VAULT_KEY=Vault.new_key(),
            TIPLINE_FACES="false",
        )
        if backend == "postgresql":
            migrate.upgrade(url)
        run = TiplineProcess(env)
        try:
            asyncio.run(_converse(fake.base_url, run.url))
            wait_until(
                lambda: asyncio.run(_snapshot(env))["photos"] == ["processed"] * 2,
                timeout=120,
                what="photos processed",
            )
            assert tipline("backup", str(tmp_path / "live"), env=env).returncode == 0  # running
        finally:
            run.stop()
        before = asyncio.run(_snapshot(env))
        assert len(before["tips"]) == CHATS
        dest = tmp_path / "backup"
        done = tipline("backup", str(dest), env=env)
        assert done.returncode == 0, done.stderr
        _wipe(env, backend)

        restored = tipline("restore", str(dest), env=env, timeout=120)
        assert restored.returncode == 0, restored.stderr
        check = tipline("db", "check", env=env, timeout=120)
        assert check.returncode == 0, check.stderr
        after = asyncio.run(_snapshot(env))
        assert after == before
        files = [entry for entries in after["packets"].values() for entry in entries]
        assert len([f for f in files if f[1] == ""]) == len(files) >= 4  # originals + display
        assert all(sha == read for sha, _, read in files)

        again = tipline("restore", str(dest), env=env)
        assert_clean_failure(again, "not empty", "--force")
        forced = tipline("restore", str(dest), "--force", env=env, timeout=120)
        assert forced.returncode == 0, forced.stderr
        assert asyncio.run(_snapshot(env)) == before
