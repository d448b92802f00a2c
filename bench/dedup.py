"""Benchmark: near-duplicate photo lookups in the phash index vs numpy brute force over 1M hashes.

Run: .venv/bin/python bench/dedup.py [--size N] [--queries Q] [--db]
Prints build time, memory (index arrays and RSS growth), lookup p50/p99, recall on planted
near-duplicates (and that nothing beyond the threshold is returned) for both, the ratio, and the
peak RSS. --db also loads the index from a SQLite database of N photos, as the worker does at start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

# The project root, not bench/ itself: bench/queue.py would shadow the standard library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.common import peak_rss_mib, percentile  # noqa: E402
from core.dedup import PhashIndex  # noqa: E402

THRESHOLD = 10


def _rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def make_hashes(size: int, planted: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray, list]:
    """size random hashes; the last `planted` are copies of earlier ones, 0..14 bits away."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=size, dtype=np.uint64, endpoint=True)
    plants = []
    for slot in range(size - planted, size):
        source = int(rng.integers(0, size - planted))
        bits = int(rng.integers(0, 15))
        flips = rng.choice(64, size=bits, replace=False)
        hashes[slot] = hashes[source] ^ np.uint64(sum(1 << int(b) for b in flips))
        plants.append((source, slot, bits))
    return np.arange(size, dtype=np.int64), hashes, plants


def brute_force(hashes: np.ndarray, query: int, radius: int) -> np.ndarray:
    """Baseline: XOR every stored hash with the query and count bits (numpy, vectorised)."""
    return np.flatnonzero(np.bitwise_count(hashes ^ np.uint64(query)) <= radius)


def timed(run, queries: list[int]) -> tuple[list[float], list[float], list]:
    """Wall and CPU (thread) milliseconds per query, and the answers.

    On a shared machine the wall-clock tail is mostly time spent descheduled; the CPU time is
    what a lookup itself costs.
    """
    wall, cpu, results = [], [], []
    for query in queries:
        start, start_cpu = time.perf_counter(), time.thread_time()
        results.append(run(query))
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu, results


def recall(found_sets: list[set[int]], plants: list) -> tuple[float, int]:
    """Share of planted copies within the threshold found, and copies beyond it returned."""
    hits = expected = beyond = 0
    for found, (_, slot, bits) in zip(found_sets, plants, strict=False):
        if bits <= THRESHOLD:
            expected += 1
            hits += slot in found
        else:
            beyond += slot in found
    return hits / max(1, expected), beyond


def incremental(index: PhashIndex, queries: list[int], rng, *, first_key: int) -> None:
    """Additions one by one (with compactions), then lookups with a full buffer."""
    start = time.perf_counter()
    for key in range(first_key, first_key + 8000):
        index.add(key, int(rng.integers(0, 2**63)))
    add_ms = (time.perf_counter() - start) / 8000 * 1000
    buffered_ms, _, _ = timed(index.search, queries[:500])
    print(
        f"incremental   add {add_ms:.3f} ms each (compactions included); "
        f"lookup p50 with {len(index) - first_key:,} more {percentile(buffered_ms, 50):.3f} ms"
    )


def report(name: str, wall: list[float], cpu: list[float]) -> None:
    print(
        f"{name:<12} wall p50 {percentile(wall, 50):7.3f} ms  p99 {percentile(wall, 99):7.3f} ms"
        f"   cpu p50 {percentile(cpu, 50):7.3f} ms  p99 {percentile(cpu, 99):7.3f} ms"
        f"   ({len(wall)} lookups)"
    )


async def load_from_db(keys: np.ndarray, hashes: np.ndarray) -> None:
    """Insert the hashes as processed tip photos in SQLite, then time the worker's loader."""
    from sqlalchemy import insert

    from storage import migrate
    from storage.db import create_engine, create_sessionmaker
    from storage.models import Tip, TipPhoto
    from workers.evidence import load_phash_index

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        signed = hashes.view(np.int64)
        async with sessions() as session:
            tip = Tip(channel="web", text="bench")
            session.add(tip)
            await session.flush()
            for start in range(0, len(keys), 50_000):
                rows = [
                    {"tip_id": tip.id, "status": "processed", "phash": int(h)}
                    for h in signed[start : start + 50_000]
                ]
                await session.execute(insert(TipPhoto), rows)
            await session.commit()
        before = _rss_mib()
        start = time.perf_counter()
        async with sessions() as session:
            index = await load_phash_index(session, max_distance=THRESHOLD)
        seconds = time.perf_counter() - start
        print(
            f"load from SQLite: {len(index):,} hashes in {seconds:.1f} s, "
            f"RSS +{_rss_mib() - before:.0f} MiB, peak RSS {peak_rss_mib():.0f} MiB"
        )
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--baseline-queries", type=int, default=300)
    parser.add_argument("--db", action="store_true", help="also load the index from SQLite")
    args = parser.parse_args()

    keys, hashes, plants = make_hashes(args.size, args.planted)
    print(f"{args.size:,} random 64-bit hashes, {args.planted:,} planted copies 0..14 bits away")
    rss_before = _rss_mib()
    start = time.perf_counter()
    index = PhashIndex.build(keys, hashes, max_distance=THRESHOLD)
    build_s = time.perf_counter() - start
    print(
        f"index build   {build_s:.2f} s; arrays {index.nbytes / 2**20:.1f} MiB; "
        f"RSS +{_rss_mib() - rss_before:.1f} MiB"
    )

    rng = np.random.default_rng(5)
    # The planted sources first (recall is measured on them), then random hashes.
    queries = [int(hashes[source]) for source, _, _ in plants]
    queries += [int(h) for h in rng.integers(0, 2**63, size=args.queries, dtype=np.uint64)]
    queries = queries[: args.queries]
    index_ms, index_cpu, index_found = timed(lambda q: {m.key for m in index.search(q)}, queries)
    base_ms, base_cpu, base_found = timed(
        lambda q: set(brute_force(hashes, q, THRESHOLD).tolist()), queries[: args.baseline_queries]
    )
    report("index", index_ms, index_cpu)
    report("brute force", base_ms, base_cpu)
    index_recall, index_beyond = recall(index_found, plants)
    base_recall, base_beyond = recall(base_found, plants)
    agree = index_found[: len(base_found)] == base_found
    print(
        f"recall within {THRESHOLD} bits: index {index_recall:.1%} (copies beyond returned: "
        f"{index_beyond}); brute force {base_recall:.1%} (beyond: {base_beyond}); "
        f"identical answers on the {len(base_found)} shared queries: {agree}"
    )
    ratio = percentile(base_ms, 50) / percentile(index_ms, 50)
    print(f"ratio         index is {ratio:.0f}x faster than brute force (p50)")
    incremental(index, queries, rng, first_key=args.size)
    print(f"peak RSS      {peak_rss_mib():.0f} MiB (this process, numpy and test data included)")
    if args.db:
        asyncio.run(load_from_db(keys, hashes))


if __name__ == "__main__":
    main()
