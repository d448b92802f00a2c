"""The review queue on a million tips: list_queue and claim_next vs bare SQL on PostgreSQL.

Run: .venv/bin/python bench/review_queue.py [--tips 1000000] [--runs 200] [--worked-queue]
Loads a throwaway database with COPY (~70% open, scores skewed low, ~1% urgent, ~10% in clusters
of 2-20, half linked to one of 200 cases, places around a few cities, 90 days), VACUUM ANALYZE,
then prints p50/p95/p99 of (a) one bare asyncpg query returning the same page and (b) list_queue,
for no filter, the busiest case, a city bbox and offset 500; (c) claim_next by staff in turn and
20 at once vs a one-statement raw claim; ratios, EXPLAIN (ANALYZE, BUFFERS) of the plans that ran,
and peak RSS. --worked-queue: the decided 30% are the tips moderators reached first (top-ranked and
older than two days), as after months of claim_next, instead of a rank-blind mix.
Aims: queue page p95 < 100 ms, claim-next < 10 ms (reported, never asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import common  # noqa: F401 - puts the project on sys.path
from common import peak_rss_mib, percentile
from sqlalchemy import event

from moderation.review.queue import OPEN_STATUSES, QueueFilter, claim_next, list_queue
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.refs import ALPHABET
from tests.databases import fresh_database

CITIES = [  # name, lat, lon, share of located tips
    ("London", 51.507, -0.128, 0.30),
    ("Manchester", 53.480, -2.242, 0.15),
    ("Lagos", 6.524, 3.379, 0.20),
    ("Xi'an", 34.341, 108.940, 0.20),
    ("Mexico City", 19.433, -99.133, 0.15),
]
AREA = (51.457, 51.557, -0.208, -0.048)  # central London: min_lat, max_lat, min_lon, max_lon
DECIDED = ("promising", "not_relevant", "not_relevant", "spam")
FRONTIER_SCORE = 32.0  # about the 80th percentile of the scores drawn below
OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
SENTENCES = [
    "I saw a girl in a red jacket near the bus station around 5 pm.",
    "A boy matching the photo was begging outside the market with an older man.",
    "She looked scared and asked a shop owner for help, then a silver van picked her up.",
    "They come past the school every morning, walking towards the river bridge.",
    "My neighbour says the child has been staying at the house on the corner since Sunday.",
    "Not sure it is him, but the backpack and the scar look the same.",
    "Seen yesterday at the train station, platform 3, with two women.",
]
TIP_COLUMNS = [
    "id", "ref", "case_id", "channel", "status", "text", "seen_at", "seen_at_precision",
    "place_text", "lat", "lon", "location_source", "contact_allowed", "language", "score",
    "score_parts", "cluster_id", "evaluated_at", "urgent", "claimed_by", "claim_expires_at",
    "details", "created_at", "updated_at",
]  # fmt: skip
CHUNK = 50_000
N_CASES, N_STAFF, DAYS = 200, 300, 90


def ref_for(kind: int, number: int) -> str:
    """A unique public reference (kind keeps tips, cases and clusters apart)."""
    chars = []
    for _ in range(7):
        number, digit = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[digit])
    code = ALPHABET[kind] + "".join(reversed(chars))
    return f"{code[:4]}-{code[4:]}"


@dataclass
class Plan:
    """Everything drawn before the tips are streamed: cases, clusters, who belongs where."""

    n: int
    now: datetime
    rng: random.Random
    worked: bool
    case_cum: list[float] = field(default_factory=list)
    member: dict[int, int] = field(default_factory=dict)  # tip id -> cluster id
    clusters: list[tuple[int, int | None, float, float, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def created(self, tip_id: int) -> datetime:
        offset = DAYS * 86400 * (1 - tip_id / self.n) + self.rng.uniform(-1800, 1800)
        return self.now - timedelta(seconds=max(60.0, offset))

    def case(self) -> int:
        return self.rng.choices(range(1, N_CASES + 1), cum_weights=self.case_cum)[0]

    def status(self, created: datetime, urgent: bool, score: float) -> str:
        """~30% decided: rank-blind, or (worked) nearly all of the old top and a few others."""
        decided = 0.30
        if self.worked and created < self.now - timedelta(days=2):
            decided = 0.995 if urgent or score >= FRONTIER_SCORE else 0.15
        elif self.worked:
            decided = 0.10
        if self.rng.random() < decided:
            return self.rng.choice(DECIDED)
        return self.rng.choices(OPEN_STATUSES, weights=(4, 1.5, 1.5))[0]

    def place(self) -> tuple[str, float, float]:
        name, lat, lon, _ = self.rng.choices(CITIES, weights=[c[3] for c in CITIES])[0]
        return name, self.rng.gauss(lat, 0.08), self.rng.gauss(lon, 0.08)


def make_plan(n: int, seed: int, *, worked: bool) -> Plan:
    """Cases with skewed popularity, ~10% of tips in clusters of 2-20 tips close in time."""
    rng = random.Random(seed)
    plan = Plan(n=n, now=datetime.now(UTC), rng=rng, worked=worked)
    total = 0.0
    for rank in range(1, N_CASES + 1):
        total += rank**-0.7
        plan.case_cum.append(total)
    plan.texts = [" ".join(rng.sample(SENTENCES, k=rng.randint(1, 4))) for _ in range(500)]
    while len(plan.member) < n // 10:
        start = rng.randint(1, n)
        ids = {min(n, start + rng.randrange(3000)) for _ in range(rng.randint(2, 20))}
        ids -= plan.member.keys()
        if len(ids) < 2:
            continue
        cluster_id = len(plan.clusters) + 1
        plan.member.update(dict.fromkeys(ids, cluster_id))
        case_id = plan.case() if rng.random() < 0.5 else None
        _, lat, lon = plan.place()
        plan.clusters.append((cluster_id, case_id, lat, lon, len(ids)))
    return plan


def tip_row(plan: Plan, tip_id: int) -> tuple[Any, ...]:
    """One tip, ready for COPY."""
    rng = plan.rng
    created = plan.created(tip_id)
    score = 0.0 if rng.random() < 0.05 else round(100 * rng.betavariate(1.3, 5), 1)
    urgent = rng.random() < 0.01
    status = plan.status(created, urgent, score)
    cluster_id = plan.member.get(tip_id)
    place: str | None
    lat: float | None
    lon: float | None
    if cluster_id is not None:
        _, case_id, centre_lat, centre_lon, _ = plan.clusters[cluster_id - 1]
        place, lat, lon = None, rng.gauss(centre_lat, 0.003), rng.gauss(centre_lon, 0.003)
    else:
        case_id = plan.case() if rng.random() < 0.5 else None
        place, lat, lon = plan.place() if rng.random() < 0.85 else (None, None, None)
    claimed_by, expires = None, None
    if status in OPEN_STATUSES and rng.random() < 0.003:  # a few leases, most of them expired
        claimed_by = rng.randint(1, N_STAFF)
        expires = plan.now + timedelta(minutes=rng.uniform(-30, 10))
    return (
        tip_id, ref_for(0, tip_id), case_id, rng.choice(("telegram", "telegram", "web")), status,
        rng.choice(plan.texts), created - timedelta(hours=rng.uniform(0, 48)), "hour", place,
        lat, lon, "pin" if lat is not None else None, rng.random() < 0.6, "en", score,
        '{"place": 0.3, "face": 0.1}' if score else "{}", cluster_id,
        created + timedelta(minutes=1) if score else None, urgent, claimed_by,
        expires, "{}", created, created,
    )  # fmt: skip


async def load(dsn: str, plan: Plan) -> None:
    """Staff, cases, clusters, then the tips in chunks (COPY), then VACUUM ANALYZE."""
    conn = await asyncpg.connect(dsn)
    now = plan.now
    staff = [(i, f"mod{i}@example.org", "moderator", "x", True, now) for i in range(1, N_STAFF + 1)]
    await conn.copy_records_to_table(
        "staff_users",
        records=staff,
        columns=["id", "email", "role", "password_hash", "active", "created_at"],
    )
    cases = [
        (i, ref_for(1, i), "active", f"Case {i}", "", "", "", now, now)
        for i in range(1, N_CASES + 1)
    ]
    await conn.copy_records_to_table(
        "cases",
        records=cases,
        columns=[
            "id", "ref", "status", "full_name", "nicknames", "description", "languages",
            "created_at", "updated_at",
        ],
    )  # fmt: skip
    clusters = [
        (c, ref_for(2, c), case, size, size, now, now) for c, case, _, _, size in plan.clusters
    ]
    await conn.copy_records_to_table(
        "tip_clusters",
        records=clusters,
        columns=["id", "ref", "case_id", "size", "independent_sources", "created_at", "updated_at"],
    )
    # COPY into a bare table, then rebuild the migrations' own index definitions, unchanged.
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tips' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'tips'::regclass)"
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    for start in range(1, plan.n + 1, CHUNK):
        rows = [tip_row(plan, i) for i in range(start, min(plan.n, start + CHUNK - 1) + 1)]
        await conn.copy_records_to_table("tips", records=rows, columns=TIP_COLUMNS)
    for index in indexes:
        await conn.execute(index["indexdef"])
    for table in ("staff_users", "cases", "tip_clusters", "tips"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
        )
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()


def raw_page_sql(extra: str) -> str:
    """The queue page as one bare query: same WHERE (cluster heads), ORDER BY and LIMIT."""
    return f"""
SELECT q.id, q.ref, q.status, q.urgent, q.score, q.channel, q.created_at, left(q.text, 160),
       q.place_text, (SELECT ref FROM cases WHERE id = q.case_id),
       (SELECT ref FROM tip_clusters WHERE id = q.cluster_id),
       coalesce((SELECT size FROM tip_clusters WHERE id = q.cluster_id), 1), q.claimed_by
FROM (
  SELECT t.* FROM tips t {extra}
  AND (t.cluster_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM tips o WHERE o.cluster_id = t.cluster_id AND o.status IN ({OPEN_SQL})
          AND (o.urgent > t.urgent OR (o.urgent = t.urgent AND o.score > t.score)
               OR (o.urgent = t.urgent AND o.score = t.score AND o.id < t.id))))
  ORDER BY t.urgent DESC, t.score DESC, t.created_at LIMIT 50 OFFSET $1
) q ORDER BY q.urgent DESC, q.score DESC, q.created_at"""


def variants(case_ref: str) -> list[tuple[str, QueueFilter, str, list[Any]]]:
    """(label, the queue's filter, the bare query, its parameters)."""
    where = f"WHERE t.status IN ({OPEN_SQL})"
    by_case = f"JOIN cases cs ON cs.id = t.case_id {where} AND cs.ref = $2"
    by_area = f"{where} AND t.lat BETWEEN $2 AND $3 AND t.lon BETWEEN $4 AND $5"
    return [
        ("no filter", QueueFilter(), raw_page_sql(where), [0]),
        ("case filter", QueueFilter(case_ref=case_ref), raw_page_sql(by_case), [0, case_ref]),
        ("area filter", QueueFilter(area=AREA), raw_page_sql(by_area), [0, *AREA]),
        ("offset 500", QueueFilter(offset=500), raw_page_sql(where), [500]),
    ]


@dataclass
class Series:
    """Wall-clock milliseconds per call, and this process's CPU milliseconds per call."""

    times: list[float] = field(default_factory=list)
    cpu_ms: float = 0.0

    def __str__(self) -> str:
        p50, p95, p99 = (percentile(self.times, p) for p in (50, 95, 99))
        n = len(self.times)
        return (
            f"p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f} ms  "
            f"(client CPU {self.cpu_ms / max(1, n):5.2f} ms/call, n={n})"
        )

    def p95_ratio(self, baseline: Series) -> float:
        return percentile(self.times, 95) / percentile(baseline.times, 95)


async def timed(call: Callable[[], Awaitable[Any]], runs: int, budget_s: float) -> Series:
    """Up to runs calls after 3 warm-up calls; stops early when the time budget is spent."""
    for _ in range(3):
        await call()
    series = Series()
    deadline = time.perf_counter() + budget_s
    cpu = time.process_time()
    while len(series.times) < runs and time.perf_counter() < deadline:
        start = time.perf_counter()
        await call()
        series.times.append((time.perf_counter() - start) * 1000)
    series.cpu_ms = (time.process_time() - cpu) * 1000
    return series


async def timed_batch(call: Callable[[], Awaitable[None]], width: int, series: Series) -> None:
    """width calls at once; each call's wall time, and the batch's CPU time, go into series."""

    async def one() -> None:
        start = time.perf_counter()
        await call()
        series.times.append((time.perf_counter() - start) * 1000)

    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(width)))
    series.cpu_ms += (time.process_time() - cpu) * 1000


def summarise(plan_json: str) -> str:
    """One line from EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON): scans, sorts, time, buffers."""
    top = json.loads(plan_json)[0]
    parts: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind, loops = node["Node Type"], node.get("Actual Loops", 1)
        if "Scan" in kind and node.get("Relation Name", "tips") == "tips":
            on = node.get("Index Name") or "tips"
            extra = f" x{loops}" if loops > 1 else ""
            removed = node.get("Rows Removed by Filter", 0) * loops
            extra += f", {removed:.0f} filtered out" if removed else ""
            parts.append(f"{kind} {on} ({node.get('Actual Rows', 0) * loops:.0f} rows{extra})")
        elif kind == "Sort":
            parts.append(f"Sort {node.get('Sort Method', '')}")
        for child in node.get("Plans", []):
            walk(child)

    walk(top["Plan"])
    hit = top["Plan"].get("Shared Hit Blocks", 0)
    read = top["Plan"].get("Shared Read Blocks", 0)
    jit = top.get("JIT", {}).get("Timing", {}).get("Total", 0.0)
    jit_note = f" (of which JIT compiling {jit:.0f} ms)" if jit else ""
    return (
        f"{'; '.join(parts)} | exec {top['Execution Time']:.1f} ms{jit_note}, buffers {hit + read}"
    )


def literal(value: Any) -> str:
    """A bound value as an SQL literal, for EXECUTE of a prepared probe (our own values only)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else repr(value)
    return "'" + str(value).replace("'", "''") + "'"


async def explain(dsn: str, sql: str, params: Any, *, generic: bool = False) -> str:
    """EXPLAIN ANALYZE, rolled back (FOR UPDATE takes locks); generic: the plan a prepared
    statement switches to after five runs, planned without the parameters' values."""
    conn = await asyncpg.connect(dsn)
    transaction = conn.transaction()
    await transaction.start()
    options = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
    try:
        if not generic:
            out = await conn.fetchval(f"{options} {sql}", *params)
        else:
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE probe AS {sql}")
            args = ", ".join(literal(p) for p in params)
            out = await conn.fetchval(f"{options} EXECUTE probe({args})")
    finally:
        await transaction.rollback()
        await conn.close()
    return summarise(out)


async def plans_used(conn: Any, sql: str) -> tuple[int, int]:
    """How often PostgreSQL ran this prepared statement with a generic and a custom plan."""
    row = await conn.fetchrow(
        "SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements "
        "WHERE statement = $1",
        sql,
    )
    return int(row[0] or 0), int(row[1] or 0)


def plans_note(counts: tuple[int, int]) -> str:
    return f"plans {counts[0]} generic/{counts[1]} custom"


class Captured:
    """The SQL the ORM sends, so EXPLAIN runs exactly the queue's statement."""

    def __init__(self, engine: Any) -> None:
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))

    def first(self, marker: str) -> tuple[str, Any]:
        return next(s for s in self.statements if marker in s[0])


async def orm_plans_used(engine: Any, sql: str) -> tuple[int, int]:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return await plans_used(raw.driver_connection, sql)


async def bench_pages(dsn: str, url: str, case_ref: str, runs: int) -> list[str]:
    """(a) vs (b) for every variant; returns EXPLAIN lines for the queue's main query."""
    conn = await asyncpg.connect(dsn)
    engine = create_engine(url, pool_size=1)  # one connection: its plan counters tell all
    sessions = create_sessionmaker(engine)
    captured = Captured(engine)
    explains = []
    print(f"\n(a) bare SQL vs (b) list_queue, a page of {QueueFilter().limit}")
    for label, filters, sql, params in variants(case_ref):

        async def raw(sql: str = sql, params: list[Any] = params) -> Any:
            return await conn.fetch(sql, *params)

        async def orm(filters: QueueFilter = filters) -> list[Any]:
            async with sessions() as session:
                return await list_queue(session, filters=filters)

        captured.statements.clear()
        same = [r[0] for r in await raw()] == [r.tip_id for r in await orm()]
        statement, orm_params = captured.first("ORDER BY")
        a, b = await timed(raw, runs, 30), await timed(orm, runs, 30)
        used = await orm_plans_used(engine, statement)
        print(f"  {label:12s} (a) {a}  {plans_note(await plans_used(conn, sql))}")
        print(f"  {'':12s} (b) {b}  {plans_note(used)}")
        print(f"  {'':12s}     p95 ratio (b)/(a) {b.p95_ratio(a):.2f}, same rows: {same}")
        # The plan that mostly ran; when that was the generic one, the custom one for contrast.
        for generic in (True, False) if used[0] > used[1] else (False,):
            kind = "generic" if generic else "custom "
            plan = await explain(dsn, statement, orm_params, generic=generic)
            explains.append(f"{label:12s} {kind} {plan}")
    await conn.close()
    await engine.dispose()
    return explains


RAW_CLAIM = f"""
UPDATE tips SET claimed_by = $1, claim_expires_at = now() + interval '10 minutes'
WHERE id = (SELECT id FROM tips WHERE status IN ({OPEN_SQL})
            AND (claimed_by IS NULL OR claim_expires_at < now())
            ORDER BY urgent DESC, score DESC, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id"""


async def bench_claims(dsn: str, url: str, runs: int) -> list[str]:
    """(c) claim_next vs one raw UPDATE, staff in turn and 20 at once; EXPLAIN of its SELECT."""
    pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
    engine = create_engine(url, pool_size=20)
    sessions = create_sessionmaker(engine)
    captured = Captured(engine)
    staff = iter(range(10**9))

    async def raw() -> None:
        assert await pool.fetchval(RAW_CLAIM, next(staff) % N_STAFF + 1) is not None

    async def orm() -> None:
        async with sessions() as session:
            assert await claim_next(session, staff_id=next(staff) % N_STAFF + 1) is not None

    print("\n(c) claim-next: one raw UPDATE vs claim_next (SELECT FOR UPDATE, UPDATE, COMMIT)")
    for width in (1, 20):
        await timed_batch(raw, width, Series())  # warm up: connections, prepared statements
        await timed_batch(orm, width, Series())
        raw_times, orm_times = Series(), Series()
        for _ in range(max(1, runs // width)):  # alternate, so both see the same claimed top
            await timed_batch(raw, width, raw_times)
            await timed_batch(orm, width, orm_times)
        print(f"  {width:2d} at once  raw        {raw_times}")
        print(f"  {'':10s} claim_next {orm_times}  p95 ratio {orm_times.p95_ratio(raw_times):.2f}")
    claimed = await pool.fetchval("SELECT count(*) FROM tips WHERE claim_expires_at > now()")
    captured.statements.clear()
    async with sessions() as session:
        await claim_next(session, staff_id=1)
    select_sql, params = captured.first("SKIP LOCKED")
    await pool.close()
    await engine.dispose()
    plan = await explain(dsn, select_sql, params)
    return [f"{'claim_next':12s} custom  {plan}, with {claimed} live leases"]


async def measure(url: str, plan: Plan, runs: int) -> None:
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    start = time.perf_counter()
    await load(dsn, plan)
    conn = await asyncpg.connect(dsn)
    size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('tips'))")
    top_case, top_count = await conn.fetchrow(
        "SELECT c.ref, count(*) FROM tips t JOIN cases c ON c.id = t.case_id "
        "GROUP BY c.ref ORDER BY 2 DESC LIMIT 1"
    )
    in_area = await conn.fetchval(
        "SELECT count(*) FROM tips WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4", *AREA
    )
    await conn.close()
    mix = "decided = the old top of the queue" if plan.worked else "decided rank-blind"
    print(
        f"loaded {plan.n:,} tips ({mix}), {len(plan.clusters):,} clusters, {N_CASES} cases, "
        f"{N_STAFF} staff in {time.perf_counter() - start:.0f} s (COPY + VACUUM ANALYZE); "
        f"tips with indexes {size}; case filter = busiest case ({top_count:,} tips), "
        f"area = central London bbox ({in_area:,} tips)"
    )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    explains = await bench_pages(dsn, url, top_case, runs)
    explains += await bench_claims(dsn, url, runs)
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the queue's statements as sent (tips scans only):")
    for line in explains:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worked-queue", action="store_true", help="decided = top-ranked, old")
    args = parser.parse_args()
    plan = make_plan(args.tips, args.seed, worked=args.worked_queue)
    with tempfile.TemporaryDirectory() as tmp, fresh_database("postgresql", Path(tmp)) as url:
        migrate.upgrade(url)
        asyncio.run(measure(url, plan, args.runs))
    print(f"\npeak RSS {peak_rss_mib():.0f} MiB (aims: queue page p95 < 100 ms, claim < 10 ms)")


if __name__ == "__main__":
    main()
