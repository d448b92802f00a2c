"""Benchmark: searching 100,000 face vectors with FaceIndex vs naive numpy and a pure-Python loop.

Run: .venv/bin/python bench/faces.py [--faces N] [--queries N]
Prints p50/p99 of one k-nearest search (aim: under 50 ms at 100,000), the ratio to both
baselines measured in the same run, a batch comparison (a new case against every tip face), the
engine's time per photo when the 'faces' extra is installed, peak RSS and the load average.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import peak_rss_mib, percentile
from PIL import Image

from core.faces import FaceIndex, load_face_engine

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "faces" / "astronaut.jpg"


def dlib_like(count: int, rng: np.random.Generator) -> np.ndarray:
    """Vectors shaped like dlib's: 128 floats, norm about 1.4 (different people ~0.9 apart)."""
    vectors = rng.normal(size=(count, 128)).astype(np.float32)
    vectors *= 1.4 / np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall times of runs calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def naive_numpy(vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The obvious numpy way: every distance, then a full sort."""
    return np.argsort(np.linalg.norm(vectors - query, axis=1))[:k]


def pure_python(rows: list[tuple[float, ...]], query: tuple[float, ...], k: int) -> list[int]:
    """A Python loop over vectors as tuples."""
    distances = [(math.dist(row, query), i) for i, row in enumerate(rows)]
    return [i for _, i in sorted(distances)[:k]]


def bench_search(faces: int, queries: int, rng: np.random.Generator) -> None:
    vectors = dlib_like(faces, rng)
    start = time.perf_counter()
    index = FaceIndex(
        face_ids=range(faces), case_ids=[i // 3 for i in range(faces)], vectors=vectors
    )
    built = (time.perf_counter() - start) * 1000
    near = vectors[rng.integers(faces, size=queries)] + dlib_like(queries, rng) * (0.3 / 1.4)
    found = [len(index.search(q, k=5, max_distance=0.6)) for q in near[:20]]
    ours = [t for q in near for t in timed(lambda q=q: index.search(q, k=5, max_distance=0.6), 1)]
    numpy_runs = [t for q in near[:30] for t in timed(lambda q=q: naive_numpy(vectors, q, 5), 1)]
    sample = [tuple(map(float, row)) for row in vectors[:1000]]
    query = tuple(map(float, near[0]))
    python_runs = timed(lambda: pure_python(sample, query, 5), 10)
    python_scaled = percentile(python_runs, 50) * faces / 1000
    p50, p99 = percentile(ours, 50), percentile(ours, 99)
    print(f"index of {faces:,} faces: built in {built:.0f} ms, {vectors.nbytes / 2**20:.0f} MiB")
    print(
        f"  FaceIndex.search k=5 ≤0.6:  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({queries} queries)"
    )
    print(f"    (every query planted 0.3 from a face; hits found in the first 20: {min(found)}+)")
    print(f"  naive numpy norm+argsort:   p50 {percentile(numpy_runs, 50):6.2f} ms")
    print(f"  pure Python, 1,000 scaled:  p50 {python_scaled:6.0f} ms (x{faces / 1000:.0f})")
    print(f"  ratio naive numpy / index:  {percentile(numpy_runs, 50) / p50:.1f}x")
    print(f"  ratio pure Python / index:  {python_scaled / p50:.0f}x")
    print(
        f"  under 50 ms: {'yes' if p50 < 50 else 'NO'} (p50), {'yes' if p99 < 50 else 'NO'} (p99)"
    )


def bench_batch(rng: np.random.Generator) -> None:
    """A case with 5 faces against 100,000 tip faces, as the worker does when a case joins."""
    case_faces = dlib_like(5, rng)
    index = FaceIndex(face_ids=range(5), case_ids=[1] * 5, vectors=case_faces)
    tips = dlib_like(100_000, rng)
    pages = [tips[start : start + 5000] for start in range(0, len(tips), 5000)]
    runs = timed(lambda: [index.within(page, max_distance=0.6) for page in pages], 5)
    print(f"a new case (5 faces) vs 100,000 tip faces: p50 {percentile(runs, 50):.0f} ms")


def bench_engine() -> None:
    start = time.perf_counter()
    engine = load_face_engine()
    if engine is None:
        print("engine: 'faces' extra not installed; skipped")
        return
    print(f"engine: models loaded in {(time.perf_counter() - start) * 1000:.0f} ms")
    with Image.open(FIXTURE) as portrait:
        canvas = Image.new("RGB", (2048, 1536), (90, 120, 90))
        canvas.paste(portrait.convert("RGB"), (1400, 900))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    for label, data in (
        ("512 px portrait", FIXTURE.read_bytes()),
        ("2048 px photo", out.getvalue()),
    ):
        runs = timed(lambda data=data: engine.embed(data), 5)
        print(f"  embed {label}: p50 {percentile(runs, 50):.0f} ms, max {max(runs):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    bench_search(args.faces, args.queries, rng)
    bench_batch(rng)
    bench_engine()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"peak RSS {peak_rss_mib():.0f} MiB; load average {load} on {os.cpu_count()} cores")
    print(f"OPENBLAS_NUM_THREADS={blas} (set it to 1 to compare on a busy machine)")


if __name__ == "__main__":
    main()
