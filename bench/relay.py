"""The outbox relay against the fake Bot API (own process, Telegram's flood limits ON), in one run:

(a) baseline: a bare aiogram loop, one send_message after another with asyncio.sleep(1/30) pacing;
(b) the relay draining a backlog of N messages to tipsters in 1,000 chats (each recipient resolved
    through the vault) at an overall limit of 30/s: achieved rate (aim >= 95% of 30/s), 429s
    (aim 0), queue latency p50/p99, CPU per message;
(c) steady arrivals (enqueued and committed in-process at 20/s): enqueue-to-sent latency.

Prints the figures, the ratio (b)/(a), and the peak RSS of this process (the relay's).

    .venv/bin/python bench/relay.py [--messages 3000] [--chats 1000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import common  # noqa: F401 - puts the project on sys.path
from common import peak_rss_mib, percentile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.factory import create_bot
from bot.sender import TelegramSender
from core.delivery.outbox import enqueue, telegram_text, tipster_recipient
from core.identity.vault import Vault
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import OutboxMessage, Tipster, TipsterIdentity
from storage.photostore import PhotoStore
from tests.databases import fresh_database
from tests.processes import TOKEN, FakeTelegramProcess, fake_telegram
from workers.buckets import Limits
from workers.relay import Relay

RATE = 30.0
FIRST_CHAT = 500_000


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def baseline(api: str, count: int) -> float:
    """A bare aiogram loop paced with asyncio.sleep(1/30); returns messages per second."""
    bot = create_bot(token=TOKEN, api_base=api)
    started = time.perf_counter()
    for n in range(count):
        await bot.send_message(chat_id=FIRST_CHAT + n, text=f"baseline {n}")
        await asyncio.sleep(1 / RATE)
    elapsed = time.perf_counter() - started
    await bot.session.close()
    return count / elapsed


async def add_tipsters(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, chats: int
) -> list[int]:
    """Tipsters whose chat ids only the vault knows; returns their ids."""
    async with sessions() as session:
        tipsters = [Tipster(pseudonym=f"T-BENCH-{n}") for n in range(chats)]
        session.add_all(tipsters)
        await session.flush()
        session.add_all(
            TipsterIdentity(
                tipster_id=t.id,
                lookup_hash=f"{n:064d}",
                ciphertext=vault.seal({"chat_id": FIRST_CHAT + n, "user_id": FIRST_CHAT + n}),
            )
            for n, t in enumerate(tipsters)
        )
        await session.commit()
        return [t.id for t in tipsters]


async def put(
    sessions: async_sessionmaker[AsyncSession], tipsters: list[int], first: int, count: int
) -> None:
    """Enqueue `count` messages round-robin over the tipsters, in one transaction."""
    async with sessions() as session:
        for n in range(first, first + count):
            recipient = tipster_recipient(tipsters[n % len(tipsters)])
            payload = telegram_text(f"Update on your report, message {n}")
            await enqueue(
                session, channel="telegram", recipient=recipient, payload=payload, key=f"bench-{n}"
            )
        await session.commit()


async def unsent(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Rows not yet sent."""
    async with sessions() as session:
        stmt = select(func.count()).where(OutboxMessage.status != "sent")
        return int(await session.scalar(stmt) or 0)


async def latencies(
    sessions: async_sessionmaker[AsyncSession], first: int, count: int
) -> list[float]:
    """Seconds from enqueue to sent for keys bench-first … bench-(first+count-1)."""
    keys = [f"bench-{n}" for n in range(first, first + count)]
    async with sessions() as session:
        stmt = select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
            OutboxMessage.idempotency_key.in_(keys)
        )
        rows = (await session.execute(stmt)).all()
    return [(sent - created).total_seconds() for created, sent in rows if sent is not None]


async def drain(sessions: async_sessionmaker[AsyncSession], every: float = 0.5) -> None:
    """Wait until every row is sent."""
    while await unsent(sessions):  # noqa: ASYNC110 - the database has no event to wait on
        await asyncio.sleep(every)


async def backlog(
    sessions, tipsters: list[int], messages: int, fake: FakeTelegramProcess
) -> dict[str, float]:
    """(b): enqueue everything, then let the relay drain it."""
    await put(sessions, tipsters, 0, messages)
    calls_before = fake.control("stats")["calls"]
    cpu, started = cpu_seconds(), time.perf_counter()
    await drain(sessions)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    waits = await latencies(sessions, 0, messages)
    stats = fake.control("stats")
    return {
        "rate": messages / elapsed,
        "elapsed": elapsed,
        "p50": percentile(waits, 50),
        "p99": percentile(waits, 99),
        "cpu_ms": 1000 * cpu / messages,
        "status_429": stats["status_429"],
        "calls": stats["calls"] - calls_before,
    }


async def steady(
    sessions, tipsters: list[int], first: int, seconds: float, rate: float
) -> list[float]:
    """(c): one message every 1/rate s, each committed on its own; enqueue-to-sent latencies."""
    count = int(seconds * rate)
    started = time.perf_counter()
    for n in range(count):
        await put(sessions, tipsters, first + n, 1)
        await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
    await drain(sessions, every=0.2)
    return await latencies(sessions, first, count)


async def run(args: argparse.Namespace, url: str, fake: FakeTelegramProcess) -> None:
    print(f"fake Bot API at {fake.base_url} (flood limits on: 1/s per chat, 30/s overall)")
    base_rate = await baseline(fake.base_url, args.baseline)
    print(f"(a) bare aiogram loop, sleep(1/30) pacing: {args.baseline} messages, {base_rate:.1f}/s")
    fake.control("reset", {})
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    vault = Vault(Vault.new_key())
    tipsters = await add_tipsters(sessions, vault, args.chats)
    bot = create_bot(token=TOKEN, api_base=fake.base_url)
    sender = TelegramSender(
        bot=bot, vault=vault, sessions=sessions, display_store=PhotoStore(Path(tempfile.mkdtemp()))
    )
    relay = Relay(
        sessions=sessions, senders={"telegram": sender}, limits=Limits(global_per_second=RATE)
    )
    task = asyncio.create_task(relay.run_forever())
    try:
        result = await backlog(sessions, tipsters, args.messages, fake)
        steady_waits = await steady(sessions, tipsters, args.messages, args.steady_seconds, 20.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()
        await engine.dispose()
    stats = fake.control("stats")
    share = 100 * result["rate"] / RATE
    print(
        f"(b) relay backlog: {args.messages} messages to {args.chats} tipsters "
        f"in {result['elapsed']:.1f} s: {result['rate']:.2f}/s = {share:.1f}% of {RATE:g}/s; "
        f"429s {result['status_429']}; calls {result['calls']}"
    )
    print(
        f"    queue latency p50 {result['p50']:.1f} s, p99 {result['p99']:.1f} s "
        f"(a backlog drains oldest first); CPU {result['cpu_ms']:.2f} ms/message"
    )
    p50, p99 = (1000 * percentile(steady_waits, q) for q in (50, 99))
    print(
        f"(c) steady 20/s for {args.steady_seconds:g} s: enqueue-to-sent p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms; 429s in all phases {stats['status_429']}"
    )
    print(f"ratio (b)/(a): {result['rate'] / base_rate:.2f}x")
    print(f"peak RSS of this process (relay, database driver, baseline): {peak_rss_mib():.0f} MiB")


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A migrated throwaway database."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(backend, Path(tmp)) as url:
        migrate.upgrade(url)
        yield url


def main() -> None:
    """Parse arguments, start the fake Bot API, run the phases."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--messages", type=int, default=3000, help="backlog size (10000 takes ~6 min)"
    )
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=1000, help="messages in the baseline loop")
    parser.add_argument("--steady-seconds", type=float, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with database(args.backend) as url, fake_telegram("--no-record") as fake:
        print(f"database: {args.backend}")
        asyncio.run(run(args, url, fake))


if __name__ == "__main__":
    main()
