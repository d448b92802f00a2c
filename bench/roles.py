"""Process roles on PostgreSQL + Redis, in one run:

(a) durable admission of webhook updates through ONE `tipline run --role web`, then through TWO
    (round-robin), each on a fresh PostgreSQL database: updates committed per second, the ratio
    two/one, and the peak RSS of each web process;
(b) the outbox relay: a backlog to 600 tipsters drained by ONE `--role worker`, then by TWO
    sharing the Redis buckets, against the fake Bot API with Telegram's flood limits on: messages
    per second (both should sit at 30/s: two relays share one global limit, they do not add up),
    the highest 5-second and 1-second rates the fake saw, 429s, the drain time, each worker's
    peak RSS, and whether two relays stayed within 30/s.

The load average is printed at the start and the end: on a shared machine it says how much of
the two cores the run really had.

    .venv/bin/python bench/roles.py [--updates 4000] [--concurrency 64] [--messages 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import common  # noqa: F401 - puts the project on sys.path
import psutil
from relay import add_tipsters, drain, put

from core.identity.vault import Vault
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from tests.databases import fresh_database
from tests.multiprocess import SECRET, max_rate
from tests.processes import TOKEN, TiplineProcess, fake_telegram, free_port, tipline_env

REDIS = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
MIB = 1024 * 1024


class PeakRss:
    """Samples a process's RSS every 0.2 s in a thread; `peak` in MiB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss / MIB)
            except psutil.Error:
                return

    def stop(self) -> float:
        """Stop sampling; the peak."""
        self._stop.set()
        self._thread.join()
        return self.peak


def _env(tmp: Path, url: str, fake_url: str, vault_key: str) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return tipline_env(
        tmp,
        TIPLINE_DATABASE_URL=url,
        TIPLINE_REDIS_URL=REDIS,
        TIPLINE_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}:",
        TIPLINE_BOT_TOKEN=TOKEN,
        TIPLINE_TELEGRAM_API_BASE=fake_url,
        TIPLINE_WEBHOOK_URL="https://tipline.example.org/telegram/webhook",
        TIPLINE_WEBHOOK_SECRET=SECRET,
        TIPLINE_VAULT_KEY=vault_key,
        TIPLINE_FACES="false",
        TIPLINE_CHAT_LIMITS_OVERALL="100000/1m",  # capacity is measured, not the limit
    )


@contextmanager
def _processes(env: dict[str, str], role: str, count: int) -> Iterator[list[TiplineProcess]]:
    """`count` processes of one role, started side by side, stopped at the end."""
    envs = [{**env, "TIPLINE_WEB_PORT": str(free_port())} for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        runs = list(pool.map(lambda e: TiplineProcess(e, "--role", role, start_timeout=900), envs))
    try:
        yield runs
    finally:
        for run in runs:
            run.stop()


async def _admit(urls: list[str], updates: int, concurrency: int, first: int) -> float:
    """Post `updates` webhook updates round-robin, `concurrency` at a time; updates/s."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    next_id = iter(range(first, first + updates))

    async def lane(http: aiohttp.ClientSession, lane_no: int) -> None:
        for n in next_id:
            update = {
                "update_id": n,
                "message": {
                    "message_id": n,
                    "date": int(time.time()),
                    "chat": {"id": 800_000 + n % 5000, "type": "private"},
                    "from": {"id": 800_000 + n % 5000, "is_bot": False, "first_name": "B"},
                    "text": "hello",
                },
            }
            url = urls[(n + lane_no) % len(urls)]
            async with http.post(url, json=update, headers=headers) as answer:
                assert answer.status == 200, answer.status

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(lane(http, n) for n in range(concurrency)))
        return updates / (time.perf_counter() - started)


def admission(tmp: Path, fake_url: str, webs: int, args: argparse.Namespace) -> tuple[float, float]:
    """(rate, peak RSS of the busiest web process) on a fresh database."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database("postgresql", tmp / f"a{webs}"))
        migrate.upgrade(url)
        env = _env(tmp / f"a{webs}", url, fake_url, Vault.new_key())
        runs = stack.enter_context(_processes(env, "web", webs))
        meters = [PeakRss(run.proc.pid) for run in runs]
        urls = [run.url + "/telegram/webhook" for run in runs]
        asyncio.run(_admit(urls, 500, args.concurrency, 1))  # warm-up
        rate = asyncio.run(_admit(urls, args.updates, args.concurrency, 10_000))
        return rate, max(meter.stop() for meter in meters)


async def _seed(url: str, vault_key: str, messages: int) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        tipsters = await add_tipsters(sessions, Vault(vault_key), messages)
        await put(sessions, tipsters, 0, messages)
    finally:
        await engine.dispose()


async def _drain(url: str) -> None:
    engine = create_engine(url)
    try:
        await drain(create_sessionmaker(engine), every=0.2)
    finally:
        await engine.dispose()


def relays(tmp: Path, fake: Any, workers: int, messages: int) -> dict[str, float]:
    """Drain a backlog with `workers` worker processes sharing the Redis buckets."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database("postgresql", tmp / f"r{workers}"))
        migrate.upgrade(url)
        key = Vault.new_key()
        env = _env(tmp / f"r{workers}", url, fake.base_url, key)
        asyncio.run(_seed(url, key, messages))
        fake.control("reset", {})
        started = time.perf_counter()
        runs = stack.enter_context(_processes(env, "worker", workers))
        meters = [PeakRss(run.proc.pid) for run in runs]
        asyncio.run(_drain(url))
        elapsed = time.perf_counter() - started
        calls = fake.control("calls?method=sendMessage")["calls"]
        times = [c["time"] for c in calls if c.get("result")]
        return {
            "rate": len(times) / (max(times) - min(times)) if len(times) > 1 else 0.0,
            "elapsed": elapsed,
            "peak5": max_rate(times, 5.0),
            "peak1": max_rate(times, 1.0),
            "status_429": fake.control("stats")["status_429"],
            "rss": max(meter.stop() for meter in meters),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--messages", type=int, default=600)
    args = parser.parse_args()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"tipline-bench-roles-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    print(f"{os.cpu_count()} cores; PostgreSQL, the driver and every process share them")
    print(f"load average at the start: {_load()}")
    with fake_telegram() as fake:
        one, rss1 = admission(tmp, fake.base_url, 1, args)
        two, rss2 = admission(tmp, fake.base_url, 2, args)
        print(f"(a) admission, 1 web: {one:,.0f} updates/s (peak RSS {rss1:.0f} MiB)")
        print(f"    admission, 2 web: {two:,.0f} updates/s (peak RSS {rss2:.0f} MiB each at most)")
        print(f"    ratio two/one: {two / one:.2f}", flush=True)
        single = relays(tmp, fake, 1, args.messages)
        double = relays(tmp, fake, 2, args.messages)
    for name, result in (("1 worker ", single), ("2 workers", double)):
        print(
            f"(b) relay, {name}: {args.messages} messages at {result['rate']:.1f}/s "
            f"(highest 5 s: {result['peak5']:.1f}/s, highest 1 s: {result['peak1']:.0f}), "
            f"429s {result['status_429']}, drained in {result['elapsed']:.0f} s, "
            f"peak RSS {result['rss']:.0f} MiB each at most"
        )
    print(f"    ratio two/one: {double['rate'] / single['rate']:.2f} (shared limit: about 1.0)")
    within = double["peak5"] <= 30.0 + 10 / 5  # 30/s plus a burst of 10 spread over the window
    verdict = "yes" if within else "NO"
    print(f"    two relays within 30/s (highest 5 s <= 32/s, the burst of 10 included): {verdict}")
    print(f"load average at the end: {_load()}")


def _load() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: say how busy it was)."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
