"""Benchmark: sanitising a 12 MP phone photo in a limited subprocess vs a bare in-process decode.

Run: .venv/bin/python bench/photos.py [--runs N]
Prints both medians, the ratio (aim: ≤ 1.5), throughput and peak RSS of parent and children.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.photos import PhotoProcessor


def make_photo(*, width: int = 4000, height: int = 3000, seed: int = 7) -> bytes:
    """A 12 MP JPEG with gradients, blocks and sensor-like noise, so it compresses like a photo."""
    rng = np.random.default_rng(seed)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    blocks = rng.integers(0, 60, size=(height // 50 + 1, width // 50 + 1, 3)).astype(np.float32)
    x = np.arange(width, dtype=np.float32)
    for top in range(0, height, 250):  # in bands, so the generator does not inflate peak RSS
        y = np.arange(top, min(top + 250, height), dtype=np.float32)[:, None]
        band = np.stack(
            [
                128 + 90 * np.sin(x / 310.0) * np.cos(y / 270.0),
                110 + 80 * np.cos((x + y) / 500.0),
                100 + 70 * np.sin(np.hypot(x - width / 2, y - height / 2) / 180.0),
            ],
            axis=-1,
        )
        band += np.repeat(np.repeat(blocks[top // 50 : top // 50 + 5], 50, 0), 50, 1)[
            : len(y), :width
        ]
        band += rng.normal(0, 9, size=band.shape).astype(np.float32)
        pixels[top : top + len(y)] = np.clip(band, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def bare_decode(data: bytes) -> None:
    """Baseline: what any code that merely looks at the photo pays."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def median_seconds(run: Callable[[], object], *, runs: int) -> float:
    """Median wall time of runs calls, after one warm-up call."""
    run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def concurrent_throughput(data: bytes, *, workers: int, photos: int) -> float:
    """Photos per second with workers zygotes busy at once."""
    with PhotoProcessor(workers=workers) as processor:
        processor.warm_up()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: processor.process(data), range(workers)))  # start them all
            start = time.perf_counter()
            list(pool.map(lambda _: processor.process(data), range(photos)))
            return photos / (time.perf_counter() - start)


def _zygote_rss_mib(processor: PhotoProcessor) -> float:
    return sum(psutil.Process(pid).memory_info().rss for pid in processor.zygote_pids()) / 2**20


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the test photo")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))

    data = make_photo(width=width, height=height)
    print(f"input: {width}x{height} JPEG, {len(data) / 1e6:.1f} MB, {args.runs} runs each")
    baseline = median_seconds(lambda: bare_decode(data), runs=args.runs)

    peak_child_kib = 0
    with PhotoProcessor(workers=1) as processor:
        processor.warm_up()
        zygote_idle = _zygote_rss_mib(processor)

        def sanitise() -> None:
            nonlocal peak_child_kib
            result = processor.process(data)
            peak_child_kib = max(peak_child_kib, result.decoder_peak_rss_kib)

        full = median_seconds(sanitise, runs=args.runs)
        result = processor.process(data)
        zygote_busy = _zygote_rss_mib(processor)

    throughput = concurrent_throughput(data, workers=2, photos=2 * args.runs)
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Linux carries ru_maxrss across exec, so RUSAGE_CHILDREN reports at least the parent's
    # peak at the moment it spawned the zygotes; the child's own figure below is the real one.
    children_rusage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    print(
        f"display {result.display_width}x{result.display_height}, {len(result.display)} B; "
        f"thumb {result.thumb_width}x{result.thumb_height}, {len(result.thumbnail)} B"
    )
    print(f"(a) bare Pillow full decode, in process: median {baseline * 1000:7.1f} ms")
    print(f"(b) process_photo, sandboxed, complete : median {full * 1000:7.1f} ms")
    print(f"ratio b/a: {full / baseline:.2f}  (aim ≤ 1.5)")
    print(f"throughput: {1 / full:.1f} photos/s one at a time, {throughput:.1f} with 2 workers")
    print(
        f"peak RSS: parent {parent_peak:.0f} MiB; zygote {zygote_idle:.0f} MiB idle, "
        f"{zygote_busy:.0f} MiB after use; decoder child {peak_child_kib / 1024:.0f} MiB "
        f"(RUSAGE_CHILDREN says {children_rusage:.0f} MiB, inherited across exec)"
    )


if __name__ == "__main__":
    main()
