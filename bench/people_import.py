"""Benchmark: importing 10,000 found people (30% with a photo) against a registry of missing cases.

Run: .venv/bin/python bench/people_import.py [--people N] [--missing M] [--photos 0.3]

Builds M missing cases (SQLite, migrated), then imports N people twice in the same run, each into
a fresh database: once without matching (the baseline: parse, write, quarantine the photos) and
once with matching (core/cases/matching.py for every person). Prints the times, the matching time
per person (the difference over N), the ratio, the time per person in the first and the last
tenth of the import (equal when a row's cost does not grow with the import) and the peak RSS.
The photos are small JPEGs put in the quarantine store; the sanitiser and face engine run later
in their workers and are not timed here (bench/photos.py and bench/faces.py time those).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from PIL import Image  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench.common import peak_rss_mib  # noqa: E402
from core.cases.people_import import COLUMNS, read_batch  # noqa: E402
from moderation.cases.people_imports import Runner, run_import, start_import  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine, create_sessionmaker  # noqa: E402
from storage.models import Case  # noqa: E402
from storage.photostore import PhotoStore  # noqa: E402
from storage.refs import new_ref  # noqa: E402
from tests.databases import fresh_database  # noqa: E402

NOW = datetime(2026, 11, 26, tzinfo=UTC)
GIVEN = ["lily", "wei", "mei", "jun", "hao", "xin", "ying", "ming", "lan", "tao", "yu", "na"]
FAMILY = ["chen", "wang", "li", "zhang", "liu", "yang", "huang", "zhao", "wu", "zhou"]


def _photo(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (seed % 256, (seed * 7) % 256, (seed * 13) % 256)).save(out, "JPEG")
    return out.getvalue()


def _file(people: int, share: float, rng: random.Random) -> tuple[bytes, dict[str, bytes]]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    photos: dict[str, bytes] = {}
    for i in range(people):
        name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        row = {"source_id": f"S-{i}", "full_name": name, "sex": rng.choice(["female", "male"])}
        row |= {"age_years": str(rng.randint(2, 40)), "found_on": "2026-10-01"}
        if rng.random() < share:
            row |= {"photo": f"p{i}.jpg", "photo_age_years": row["age_years"]}
            photos[f"p{i}.jpg"] = _photo(i)
        writer.writerow(row)
    return out.getvalue().encode(), photos


async def _registry(url: str, missing: int, rng: random.Random) -> None:
    engine = create_engine(url)
    rows = [
        {
            "ref": new_ref(),
            "kind": "missing",
            "status": "active",
            "full_name": f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
            "nicknames": rng.choice(GIVEN),
            "sex": rng.choice(["female", "male"]),
            "age_years": rng.randint(2, 14),
            "last_seen_at": NOW - timedelta(days=rng.randint(10, 9000)),
            "marks": "",
            "description": "",
            "languages": "",
        }
        for _ in range(missing)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(Case), rows)
    await engine.dispose()


async def _import(
    url: str, data: bytes, photos: dict[str, bytes], media: Path, match: bool
) -> tuple[float, list[tuple[int, float]]]:
    """Seconds for the whole import, and (people done, seconds) after each committed chunk."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    batch = read_batch(data, name="bench.csv", photos=photos, now=NOW)
    started = time.perf_counter()
    marks: list[tuple[int, float]] = [(0, 0.0)]

    def progress(done: int, total: int) -> None:
        marks.append((done, time.perf_counter() - started))

    async with sessions() as session:
        job = await start_import(
            session,
            staff=None,
            source_name="bench",
            file_name="bench.csv",
            batch=batch,
            owner="bench",
        )
        await run_import(
            session,
            job_id=job.id,
            batch=batch,
            quarantine=PhotoStore(media),
            runner=Runner(owner="bench"),
            progress=progress,
            match=match,
            now=NOW,
        )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed, marks


def _per_person_ms(marks: list[tuple[int, float]], part: slice) -> float:
    """Milliseconds per person over a part of the import (the first or last tenth of chunks)."""
    chosen = marks[part]
    (done_a, at_a), (done_b, at_b) = chosen[0], chosen[-1]
    return (at_b - at_a) / max(1, done_b - done_a) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--missing", type=int, default=1_000)
    parser.add_argument("--photos", type=float, default=0.3)
    args = parser.parse_args()
    data, photos = _file(args.people, args.photos, random.Random(7))
    times, marks = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for match in (False, True):
            with fresh_database("sqlite", Path(tmp)) as url:
                migrate.upgrade(url)
                asyncio.run(_registry(url, args.missing, random.Random(11)))
                media = Path(tmp) / f"media{match}"
                times[match], marks[match] = asyncio.run(_import(url, data, photos, media, match))
    per_person = (times[True] - times[False]) / args.people * 1000
    tenth = max(2, len(marks[True]) // 10)
    print(
        f"{args.people} people ({len(photos)} with a photo), {args.missing} missing cases, SQLite"
    )
    print(f"import without matching (baseline): {times[False]:.1f} s")
    print(f"import with matching:                {times[True]:.1f} s")
    ratio = times[True] / times[False]
    print(f"matching per person: {per_person:.2f} ms; ratio to baseline {ratio:.2f}")
    for match in (False, True):
        first = _per_person_ms(marks[match], slice(0, tenth))
        last = _per_person_ms(marks[match], slice(-tenth, None))
        label = "with matching" if match else "baseline"
        print(f"{label}: first tenth {first:.2f} ms/person, last tenth {last:.2f} ms/person")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
