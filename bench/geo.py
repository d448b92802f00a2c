"""Benchmark: offline place lookups vs a plain dict lookup of the exact name.

Run: .venv/bin/python bench/geo.py [--min-population 15000] [--rounds 5]
Prints the gazetteer's load time and RSS cost, lookups/s and p50/p99 for a mix of 1,000 queries
(search, and the geopy geocode that wraps it) against the dict baseline and the ratio, reverse
lookups against a numpy haversine scan, and peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import psutil
from babel import Locale

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.geo import OfflineGeocoder, load_gazetteer
from core.geo.build import COUNTRY_NAME_LOCALES
from core.geo.gazetteer import Gazetteer

T = TypeVar("T")
CHINESE = [
    "西安",
    "北京",
    "上海",
    "广州",
    "成都",
    "乌鲁木齐",
    "陕西省西安市",
    "中国西安",
    "拉萨",
    "福州",
]
QUALIFIED = ["Springfield, IL", "Paris, US", "Paris France", "London, Canada", "Xi'an, China"]
BAD = ["", "🙂🙂", "x" * 10_000, "'; DROP TABLE tips; --", "   "]


def make_queries(gazetteer: Gazetteer, *, count: int = 1000, seed: int = 42) -> list[str]:
    """A reproducible mix: exact names, sloppy spellings, qualified, Chinese, misses, junk."""
    rng = random.Random(seed)
    names = gazetteer._t.names  # a benchmark may look inside
    cities = [names[rng.randrange(34_000)] for _ in range(450)]
    sloppy = [name.lower().replace(" ", "").replace("-", " ") for name in cities[:200]]
    qualified = [rng.choice(QUALIFIED) for _ in range(100)]
    chinese = [rng.choice(CHINESE) for _ in range(100)]
    misses = ["".join(rng.choices("bcdfghjklmnpqrstvwxz", k=8)) for _ in range(100)]
    junk = [rng.choice(BAD) for _ in range(50)]
    queries = cities + sloppy + qualified + chinese + misses + junk
    rng.shuffle(queries)
    return queries[:count]


def timings(call: Callable[[T], object], queries: Sequence[T], *, rounds: int) -> list[float]:
    """Per-call seconds over all rounds (the first round warms caches and is dropped)."""
    for query in queries:
        call(query)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for query in queries:
            start = clock()
            call(query)
            samples.append((clock() - start) / 1e9)
    return samples


def report(label: str, samples: list[float], baseline: list[float] | None = None) -> None:
    """Print throughput, p50 and p99, and the ratio of medians to the baseline."""
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[int(len(ordered) * 0.99)]
    line = f"{label:<34} {len(samples) / sum(samples):>12,.0f}/s  p50 {p50 * 1e6:8.2f} µs"
    line += f"  p99 {p99 * 1e6:8.2f} µs"
    if baseline is not None:
        line += f"  ratio x{p50 / statistics.median(baseline):.1f} (p50)"
    print(line)


def haversine_scan(gazetteer: Gazetteer) -> Callable[[tuple[float, float]], int]:
    """Baseline for reverse: the naive numpy haversine over every city."""
    rows = np.flatnonzero(np.frombuffer(gazetteer._t.kinds, dtype=np.int8) == 0)
    lat = np.radians(np.asarray(gazetteer._t.latitudes)[rows])
    lon = np.radians(np.asarray(gazetteer._t.longitudes)[rows])

    def nearest(point: tuple[float, float]) -> int:
        phi, lam = np.radians(point[0]), np.radians(point[1])
        a = np.sin((lat - phi) / 2) ** 2 + np.cos(phi) * np.cos(lat) * np.sin((lon - lam) / 2) ** 2
        return int(np.argmin(a))

    return nearest


def load(min_population: int) -> Gazetteer:
    """Load the gazetteer and print its load time and the RSS it adds."""
    process = psutil.Process()
    gc.collect()
    rss_start = process.memory_info().rss
    # Babel's locale data (country names in Chinese) is shared with the translations: count apart.
    for locale in COUNTRY_NAME_LOCALES:
        Locale.parse(locale).territories  # noqa: B018
    gc.collect()
    rss_before = process.memory_info().rss
    started = time.perf_counter()
    gazetteer = load_gazetteer(min_population=min_population)
    load_seconds = time.perf_counter() - started
    gc.collect()
    rss_added = process.memory_info().rss - rss_before
    print(f"gazetteer: cities>={min_population}, {len(gazetteer):,} places")
    print(f"load time                          {load_seconds:.2f} s")
    print(f"RSS added by the load              {rss_added / 2**20:.1f} MiB")
    print(f"RSS added by babel's locale data   {(rss_before - rss_start) / 2**20:.1f} MiB")
    return gazetteer


def bench_lookups(gazetteer: Gazetteer, *, rounds: int) -> None:
    """Time the query mix through the gazetteer and the geopy geocoder against a dict."""
    queries = make_queries(gazetteer)
    exact = {gazetteer._t.names[i]: i for i in range(len(gazetteer))}
    baseline = timings(exact.get, queries, rounds=rounds)
    geocoder = OfflineGeocoder(gazetteer=gazetteer)
    print(f"{len(queries)} queries x {rounds} rounds")
    report("baseline: dict.get(exact name)", baseline)
    report("Gazetteer.search", timings(gazetteer.search, queries, rounds=rounds), baseline)
    report("OfflineGeocoder.geocode", timings(geocoder.geocode, queries, rounds=rounds), baseline)
    candidates = timings(lambda q: geocoder.geocode(q, exactly_one=False), queries, rounds=rounds)
    report("geocode(exactly_one=False)", candidates, baseline)


def bench_reverse(gazetteer: Gazetteer, *, rounds: int) -> None:
    """Time nearest-city lookups against a numpy haversine scan of every city."""
    rng = random.Random(7)
    points = [(rng.uniform(-60, 70), rng.uniform(-180, 180)) for _ in range(1000)]
    geocoder = OfflineGeocoder(gazetteer=gazetteer)
    scan = timings(haversine_scan(gazetteer), points, rounds=rounds)
    report("baseline: numpy haversine scan", scan)
    report("OfflineGeocoder.reverse", timings(geocoder.reverse, points, rounds=rounds), scan)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-population", type=int, default=15000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    gazetteer = load(args.min_population)
    bench_lookups(gazetteer, rounds=args.rounds)
    bench_reverse(gazetteer, rounds=args.rounds)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"RSS now                            {psutil.Process().memory_info().rss / 2**20:.1f} MiB"
    )
    print(f"peak RSS                           {peak:.1f} MiB")


if __name__ == "__main__":
    main()
