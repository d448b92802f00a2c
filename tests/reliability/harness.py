"""The reliability suite's parts: a real `tipline run` in webhook mode against the fake Bot API,
drivers for the webhook and the web form, database counts, and the figures each scenario prints.

RELIABILITY=full (`make reliability`) runs each scenario at its full size; otherwise the short
tier that `make test` runs.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from PIL import Image
from sqlalchemy.engine import make_url

from core.identity.vault import Vault
from storage import migrate
from tests.databases import fresh_database
from tests.multiprocess import SECRET
from tests.processes import TOKEN, TiplineProcess, fake_telegram, start_roles, tipline_env
from tests.redis_server import REDIS_URL

FULL = os.environ.get("RELIABILITY", "").lower() == "full"
VAULT_KEY = Vault.new_key()
OPEN_LIMITS = {
    "TIPLINE_FORM_LIMITS_ADDRESS": "100000/1m",
    "TIPLINE_FORM_LIMITS_SESSION": "100000/1m",
    "TIPLINE_FORM_LIMITS_OVERALL": "100000/1m",
    "TIPLINE_CHAT_LIMITS_OVERALL": "100000/1m",
}


def tier(short: float, full: float) -> float:
    """The scenario's size in this run."""
    return full if FULL else short


def report(scenario: str, **figures: Any) -> None:
    """Print a scenario's figures on one line (pytest -s shows them; CI logs keep them)."""
    shown = ", ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    tag = "full" if FULL else "short"
    load = os.getloadavg()[0]
    print(f"\n[{scenario} {tag}] {shown}, load={load:.1f}", flush=True)


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, seed * 7 % 256, seed * 13 % 256)).save(buffer, "JPEG")
    return buffer.getvalue()


def text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """A private text message as Telegram sends it."""
    user = {"id": chat_id, "is_bot": False, "first_name": "T", "language_code": "en"}
    message = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "T"},
        "from": user,
        "text": text,
    }
    return {"update_id": update_id, "message": message}


@dataclass
class Deployment:
    """A running `tipline run` in webhook mode and how to reach its database: one process
    (role all), or one per role as production runs on PostgreSQL (`run` is then the web)."""

    run: TiplineProcess
    database_url: str
    fake: Any
    acked: set[int] = field(default_factory=set)
    processes: list[TiplineProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.run.url

    async def post_update(self, client: httpx.AsyncClient, update: dict[str, Any]) -> int:
        """POST one update as Telegram would; its status (200 means admitted and committed)."""
        response = await client.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        if response.status_code == 200:
            self.acked.add(update["update_id"])
        return response.status_code

    async def sql(self, query: str, *args: Any) -> list[Any]:
        """Rows of a query on the deployment's database (PostgreSQL or SQLite)."""
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            import sqlite3

            with sqlite3.connect(url.database or "") as connection:
                return connection.execute(query.replace("$1", "?"), args).fetchall()
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()


@contextmanager
def deployment(
    tmp_path: Path, *, backend: str = "postgresql", roles: Sequence[str] = (), **env: str
) -> Iterator[Deployment]:
    """`tipline run` in webhook mode on a fresh database, with the fake Bot API: one process, or
    one per role in `roles` (sharing Redis and the media folder), the first of them the web."""
    if roles:
        env = {
            "TIPLINE_REDIS_URL": REDIS_URL,
            "TIPLINE_REDIS_PREFIX": f"rel-{uuid.uuid4().hex[:10]}:",
            **env,
        }
    with fake_telegram("--no-rate-limit") as fake, fresh_database(backend, tmp_path) as url:
        migrate.upgrade(url)
        values = tipline_env(
            tmp_path,
            TIPLINE_DATABASE_URL=url,
            TIPLINE_BOT_TOKEN=TOKEN,
            TIPLINE_TELEGRAM_API_BASE=fake.base_url,
            TIPLINE_WEBHOOK_SECRET=SECRET,
            TIPLINE_VAULT_KEY=VAULT_KEY,
            **env,
        )
        values["TIPLINE_WEBHOOK_URL"] = (
            f"http://127.0.0.1:{values['TIPLINE_WEB_PORT']}/telegram/webhook"
        )
        # The fake pushes the updates it builds (fake.build) to the webhook, as Telegram would.
        fake.http.post(
            f"/bot{TOKEN}/setWebhook",
            json={"url": values["TIPLINE_WEBHOOK_URL"], "secret_token": SECRET},
        ).raise_for_status()
        processes = start_roles(values, roles) if roles else [TiplineProcess(values)]
        try:
            yield Deployment(processes[0], url, fake, processes=processes)
        finally:
            for each in processes:
                each.stop()


_FIELD = re.compile(r'name="(csrf|nonce)" value="([^"]*)"')


async def web_report(
    client: httpx.AsyncClient, text: str, *, photo: bytes | None = None, **headers: str
) -> tuple[int, str | None]:
    """Open the form and send it as a browser would; (status, the tip's reference if stored)."""
    page = await client.get("/report", headers=headers)
    fields = dict(_FIELD.findall(page.text))
    data = {**fields, "text": text, "when": "now", "lang": "en"}
    files = [("photos", ("sighting.jpg", photo, "image/jpeg"))] if photo else None
    response = await client.post("/report", data=data, files=files, headers=headers)
    found = re.search(r'id="ref">([^<]+)<', response.text) if response.status_code == 200 else None
    return response.status_code, found.group(1) if found else None


def until(check: Any, *, timeout: float, interval: float = 0.5) -> Any:
    """Poll an async check until truthy (or give its last value after the timeout)."""

    async def poll() -> Any:
        deadline = time.monotonic() + timeout
        value = await check()
        while not value and time.monotonic() < deadline:
            await asyncio.sleep(interval)
            value = await check()
        return value

    return poll()
