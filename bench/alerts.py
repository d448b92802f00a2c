"""Area alerts, in one run:

(a) choosing the recipients of one alert among 100,000 volunteers (70% spread over a country-sized
    area, 30% in dense clusters around the case), for the first radius (100 km) and the last
    (500 km): core.alerts.recipients.find_recipients (bounding box on ix_subscriptions_lat_lon,
    NOT EXISTS on case_alerts, haversine in numpy, daily cap) vs a bare SQL bounding-box query for
    the same box through the same driver; p50/p95 over repeats (aim < 1 s) and the ratio;
(b) start_case_alerts for a case with a photo and N volunteers in their own chats, then the real
    relay (workers/relay.py) sending the alerts to the fake Bot API in its own process (flood
    limits ON): messages/s vs the configured 30/s (aim >= 95%) and 429s (aim 0).

Prints the figures and the peak RSS of this process.

    .venv/bin/python bench/alerts.py [--backend sqlite|postgresql] [--volunteers 100000]
                                     [--repeats 15] [--send 1500]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import common  # noqa: F401 - puts the project on sys.path
from common import peak_rss_mib, percentile
from PIL import Image
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.factory import create_bot
from bot.sender import TelegramSender
from core.alerts.dispatch import AlertPolicy, start_case_alerts
from core.alerts.recipients import find_recipients
from core.geo import bbox
from core.identity.vault import Vault
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Case, CasePhoto, OutboxMessage, Subscription, Tipster, TipsterIdentity
from storage.photostore import PhotoStore
from storage.types import utcnow
from tests.databases import fresh_database
from tests.processes import TOKEN, FakeTelegramProcess, fake_telegram
from workers.buckets import Limits
from workers.relay import Relay

CENTRE = (34.2610, 108.9420)  # Xi'an
RATE = 30.0
FIRST_CHAT = 700_000
CHUNK = 5000


def spread(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """70% uniform over ~2,800 x 3,000 km, 30% in clusters within 150 km of the centre."""
    points = []
    for n in range(count):
        if n % 10 < 7:
            points.append((rng.uniform(20.0, 45.0), rng.uniform(90.0, 122.0)))
        else:
            km, angle = rng.uniform(0, 150), rng.uniform(0, 2 * math.pi)
            lat = CENTRE[0] + km * math.cos(angle) / 111.2
            lon = CENTRE[1] + km * math.sin(angle) / (111.2 * math.cos(math.radians(lat)))
            points.append((lat, lon))
    return points


async def add_volunteers(
    sessions: async_sessionmaker[AsyncSession], points: list[tuple[float, float]], first: int = 0
) -> list[int]:
    """Tipsters and their volunteer subscriptions in bulk; returns the tipster ids."""
    ids: list[int] = []
    async with sessions() as session:
        for start in range(0, len(points), CHUNK):
            part = points[start : start + CHUNK]
            rows = [
                {"pseudonym": f"T-AL-{first + start + i}", "language": "en"}
                for i in range(len(part))
            ]
            new = (
                (await session.execute(insert(Tipster).returning(Tipster.id), rows)).scalars().all()
            )
            subs = [
                {
                    "kind": "volunteer",
                    "tipster_id": t,
                    "lat": lat,
                    "lon": lon,
                    "radius_km": 500.0,
                    "language": "en",
                    "paused": False,
                    "timezone": "Asia/Shanghai",
                }
                for t, (lat, lon) in zip(new, part, strict=True)
            ]
            await session.execute(insert(Subscription), subs)
            ids.extend(new)
        await session.commit()
    return ids


async def timed(func_, repeats: int) -> tuple[list[float], int]:
    times, count = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        count = await func_()
        times.append(time.perf_counter() - started)
    return times, count


async def selection(sessions, repeats: int, radius: float) -> None:
    """(a) for one radius: Tipline's selection vs a bare bounding-box query."""
    min_lat, max_lat, min_lon, max_lon = bbox(*CENTRE, radius)
    bare_sql = text(
        "SELECT id, lat, lon, radius_km FROM subscriptions "
        "WHERE lat BETWEEN :a AND :b AND lon BETWEEN :c AND :d"
    )

    async def ours() -> int:
        async with sessions() as session:
            found = await find_recipients(
                session,
                case_id=1,
                lat=CENTRE[0],
                lon=CENTRE[1],
                radius_km=radius,
                per_day=3,
                now=utcnow(),
            )
            return len(found)

    async def bare() -> int:
        async with sessions() as session:
            rows = await session.execute(
                bare_sql, {"a": min_lat, "b": max_lat, "c": min_lon, "d": max_lon}
            )
            return len(rows.all())

    await ours(), await bare()  # warm caches and statement preparation
    ours_t, chosen = await timed(ours, repeats)
    bare_t, boxed = await timed(bare, repeats)
    p50, p95 = (1000 * percentile(ours_t, q) for q in (50, 95))
    b50, b95 = (1000 * percentile(bare_t, q) for q in (50, 95))
    print(
        f"(a) radius {radius:g} km: {chosen} recipients of {boxed} in the box; "
        f"find_recipients p50 {p50:.0f} ms p95 {p95:.0f} ms; bare box query p50 {b50:.0f} ms "
        f"p95 {b95:.0f} ms; ratio {p50 / b50:.2f}x"
    )


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (480, 640), (180, 90, 60)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def sending(sessions, count: int, fake: FakeTelegramProcess) -> None:
    """(b): alerts for `count` volunteers in their own chats, through the relay."""
    vault = Vault(Vault.new_key())
    display = PhotoStore(Path(tempfile.mkdtemp()) / "display")
    near = (CENTRE[0] + 0.05, CENTRE[1])
    async with sessions() as session:
        await session.execute(text("DELETE FROM case_alerts"))
        await session.execute(text("DELETE FROM subscriptions"))
        await session.commit()
    tipsters = await add_volunteers(sessions, [near] * count, first=10**7)
    async with sessions() as session:
        await session.execute(
            insert(TipsterIdentity),
            [
                {
                    "tipster_id": t,
                    "lookup_hash": f"{n:064d}",
                    "ciphertext": vault.seal(
                        {"chat_id": FIRST_CHAT + n, "user_id": FIRST_CHAT + n}
                    ),
                }
                for n, t in enumerate(tipsters)
            ],
        )
        case = Case(
            full_name="Li Na",
            status="active",
            age_years=6,
            last_seen_place="Xi'an",
            last_seen_at=utcnow() - timedelta(minutes=5),
            last_seen_lat=CENTRE[0],
            last_seen_lon=CENTRE[1],
        )
        session.add(case)
        await session.flush()
        session.add(CasePhoto(case_id=case.id, status="ready", display_sha256=display.put(jpeg())))
        started = time.perf_counter()
        policy = AlertPolicy(radii_km=(100.0,), step_minutes=60)
        queued = await start_case_alerts(session, case=case, now=utcnow(), policy=policy)
        await session.commit()
        took = time.perf_counter() - started
        print(f"(b) start_case_alerts: {queued} alerts enqueued in {took:.2f} s")
    bot = create_bot(token=TOKEN, api_base=fake.base_url)
    sender = TelegramSender(bot=bot, vault=vault, sessions=sessions, display_store=display)
    relay = Relay(
        sessions=sessions, senders={"telegram": sender}, limits=Limits(global_per_second=RATE)
    )
    before = fake.control("stats")
    task = asyncio.create_task(relay.run_forever())
    started = time.perf_counter()
    try:
        while await unsent(sessions):  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()
    elapsed = time.perf_counter() - started
    stats = fake.control("stats")
    rate = queued / elapsed
    print(
        f"    relay: {queued} photo alerts in {elapsed:.1f} s = {rate:.2f}/s = "
        f"{100 * rate / RATE:.1f}% of {RATE:g}/s; 429s {stats['status_429'] - before['status_429']}"
    )


async def unsent(sessions) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
        return int(await session.scalar(stmt) or 0)


async def run(args: argparse.Namespace, url: str) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    started = time.perf_counter()
    await add_volunteers(sessions, spread(args.volunteers, random.Random(7)))
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    print(f"{args.volunteers} volunteers inserted in {time.perf_counter() - started:.1f} s")
    for radius in (100.0, 500.0):
        await selection(sessions, args.repeats, radius)
    if args.send:
        with fake_telegram("--no-record") as fake:
            await sending(sessions, args.send, fake)
    await engine.dispose()
    print(f"peak RSS of this process: {peak_rss_mib():.0f} MiB")


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A migrated throwaway database."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(backend, Path(tmp)) as url:
        migrate.upgrade(url)
        yield url


def main() -> None:
    """Parse arguments and run both parts on one backend."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--send", type=int, default=1500, help="alerts through the relay (0: skip)")
    args = parser.parse_args()
    with database(args.backend) as url:
        print(f"database: {args.backend}")
        asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
