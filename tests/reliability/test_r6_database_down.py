"""R6: PostgreSQL stopped mid-load, then started. Pass: the webhook answers 503 while it is down
(so Telegram retries), and afterwards nothing is lost: every update sent is admitted once and
handled. Our own throwaway cluster is stopped, never the shared server.

Short tier: down for 5 s. Full: 30 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from storage import migrate
from tests.processes import TOKEN, TiplineProcess, fake_telegram, tipline_env
from tests.reliability.harness import (
    SECRET,
    VAULT_KEY,
    Deployment,
    report,
    text_update,
    tier,
    until,
)
from tests.reliability.pg_cluster import Cluster

pytestmark = pytest.mark.reliability

DOWN = tier(5, 30)
RATE = 20


async def _drive(app: Deployment, cluster: Cluster) -> dict[str, object]:
    answers: dict[int, int] = {}
    down_answers: list[int] = []
    phase = {"down": False}
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as hook:

        async def send(n: int) -> None:
            try:
                status = await app.post_update(hook, text_update(n, 40_000 + n % 20, f"tip {n}"))
            except httpx.TransportError:
                status = 0
            answers[n] = status
            if phase["down"]:
                down_answers.append(status)

        async def load(until_: float, start: int) -> int:
            n = start
            while time.monotonic() < until_:
                await send(n)
                n += 1
                await asyncio.sleep(1 / RATE)
            return n

        n = await load(time.monotonic() + 3, 1)
        await asyncio.to_thread(cluster.stop)
        phase["down"] = True
        n = await load(time.monotonic() + DOWN, n)
        phase["down"] = False
        await asyncio.to_thread(cluster.start)
        n = await load(time.monotonic() + 3, n)
        # Telegram redelivers whatever was not answered 200; so do we, until all are in.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(s != 200 for s in answers.values()):
            for missing in [k for k, s in answers.items() if s != 200]:
                await send(missing)
            await asyncio.sleep(1)
    return {"answers": answers, "down": down_answers, "sent": n - 1}


def test_r6_database_down_answers_503_and_loses_nothing(tmp_path: Path):
    cluster = Cluster()
    cluster.init()
    cluster.start()
    try:
        url = cluster.create_database()
        migrate.upgrade(url)
        with fake_telegram("--no-rate-limit") as fake:
            env = tipline_env(
                tmp_path,
                TIPLINE_DATABASE_URL=url,
                TIPLINE_BOT_TOKEN=TOKEN,
                TIPLINE_TELEGRAM_API_BASE=fake.base_url,
                TIPLINE_WEBHOOK_SECRET=SECRET,
                TIPLINE_VAULT_KEY=VAULT_KEY,
            )
            env["TIPLINE_WEBHOOK_URL"] = (
                f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/telegram/webhook"
            )
            run = TiplineProcess(env)
            app = Deployment(run, url, fake)
            try:
                result = asyncio.run(_drive(app, cluster))

                async def drained() -> bool:
                    rows = await app.sql(
                        "SELECT count(*) FROM inbox_updates WHERE status = 'pending'"
                    )
                    return rows[0][0] == 0

                asyncio.run(until(drained, timeout=300))
                rows = asyncio.run(app.sql("SELECT update_id, status FROM inbox_updates"))
                alive = run.proc.poll() is None
            finally:
                run.stop()
    finally:
        cluster.stop()
        cluster.remove()
    down = result["down"]
    sent = set(range(1, result["sent"] + 1))
    stored = {row[0] for row in rows}
    statuses = {s: sum(1 for r in rows if r[1] == s) for s in {r[1] for r in rows}}
    report(
        "R6 database down",
        down_seconds=DOWN,
        sent=len(sent),
        answered_while_down={s: down.count(s) for s in sorted(set(down))},
        lost=len(sent - stored),
        inbox=statuses,
        process_alive=alive,
    )
    assert down and set(down) <= {503}
    assert sent == stored
    assert statuses.get("pending", 0) == 0
    assert alive
