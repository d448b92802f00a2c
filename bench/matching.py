"""Benchmark: refresh_matches for one case against a registry of 10,000 cases vs the bare query.

Run: .venv/bin/python bench/matching.py [--cases N] [--refreshes R] [--faces F] [--sqlite-only]
Builds N cases (half missing, half found; Latin and Chinese names, nicknames, ages, places, marks),
gives a fraction F of them one face vector, then times refresh_matches (candidate query, faces,
scoring, storing; rolled back each time) for R cases, and in the same run the bare candidate query
(the same columns and filter, rows fetched, nothing scored). Prints p50/p99 and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import insert, or_, select  # noqa: E402

from bench.common import peak_rss_mib, percentile  # noqa: E402
from core.cases import matching as case_matching  # noqa: E402
from core.faces.records import pack  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine, create_sessionmaker  # noqa: E402
from storage.models import Case, CasePhoto, FaceEmbedding  # noqa: E402
from storage.refs import new_ref  # noqa: E402
from tests.databases import fresh_database  # noqa: E402

NOW = datetime(2026, 11, 26, tzinfo=UTC)
GIVEN = ["lily", "wei", "mei", "jun", "hao", "xin", "ying", "ming", "lan", "tao", "yu", "na"]
FAMILY = ["chen", "wang", "li", "zhang", "liu", "yang", "huang", "zhao", "wu", "zhou"]
CJK_FAMILY, CJK_GIVEN = "王李张刘陈杨黄赵吴周", "明红伟芳军丽强敏静磊洋艳勇娟杰涛"
MARKS = ["scar on the left knee", "mole under the right eye", "左臂有胎记", "birthmark on neck", ""]


def _case_row(rng: random.Random, index: int) -> dict[str, object]:
    kind = "missing" if index % 2 else "found"
    if rng.random() < 0.4:
        name = rng.choice(CJK_FAMILY) + "".join(rng.choices(CJK_GIVEN, k=rng.choice((1, 2))))
        nick = "小" + name[-1]
    else:
        name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        nick = rng.choice(GIVEN)
    seen = NOW - timedelta(days=rng.randint(1, 20 * 365))
    born = seen.date() - timedelta(days=rng.randint(365, 14 * 365))
    return {
        "ref": new_ref(),
        "kind": kind,
        "status": rng.choice(["active", "verified", "submitted", "found"]),
        "full_name": name if kind == "missing" or rng.random() < 0.3 else "unknown",
        "nicknames": nick,
        "sex": rng.choice(["female", "male", None]),
        "birth_date": born if kind == "missing" and rng.random() < 0.7 else None,
        "age_years": (seen.date() - born).days // 365,
        "last_seen_at": seen,
        "last_seen_lat": rng.uniform(20, 45),
        "last_seen_lon": rng.uniform(100, 122),
        "marks": rng.choice(MARKS),
        "description": "",
        "languages": "",
    }


async def build(url: str, *, cases: int, faces: float) -> list[int]:
    """Fill the registry; returns the ids of the cases to refresh."""
    rng = random.Random(7)
    engine = create_engine(url)
    async with engine.begin() as conn:
        rows = [_case_row(rng, i) for i in range(cases)]
        for start in range(0, cases, 2000):
            await conn.execute(insert(Case), rows[start : start + 2000])
        ids = list((await conn.scalars(select(Case.id).order_by(Case.id))).all())
        with_face = [i for i in ids if rng.random() < faces]
        photos = [{"case_id": i, "status": "ready", "display_sha256": "ab" * 32} for i in with_face]
        if photos:
            await conn.execute(insert(CasePhoto), photos)
            photo_ids = (await conn.execute(select(CasePhoto.id, CasePhoto.case_id))).all()
            vectors = np.random.default_rng(3).normal(0, 0.12, size=(len(photo_ids), 128))
            await conn.execute(
                insert(FaceEmbedding),
                [
                    {"case_id": c, "case_photo_id": p, "vector": pack(v), "box": {}}
                    for (p, c), v in zip(photo_ids, vectors, strict=True)
                ],
            )
    await engine.dispose()
    return rng.sample(ids, k=len(ids))


async def measure(url: str, sample: list[int]) -> tuple[list[float], list[float], int]:
    """Milliseconds per refresh_matches and per bare candidate query; matches found."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    ours, bare, found = [], [], 0
    for case_id in sample:
        async with sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            started = time.perf_counter()
            stmt = select(*case_matching._FIELDS).where(
                case_matching._candidate_filter(case),
                or_(Case.kind != case.kind, case_matching._same_kind_filter(case)),
            )
            rows = (await session.execute(stmt)).all()
            bare.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            matches = await case_matching.refresh_matches(session, case=case, now=NOW)
            ours.append((time.perf_counter() - started) * 1000)
            found += len(matches)
            assert rows is not None
            await session.rollback()
    await engine.dispose()
    return ours, bare, found


def run_backend(backend: str, tmp: Path, args: argparse.Namespace) -> None:
    with fresh_database(backend, tmp) as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        order = asyncio.run(build(url, cases=args.cases, faces=args.faces))
        built = time.perf_counter() - started
        ours, bare, found = asyncio.run(measure(url, order[: args.refreshes]))
    ratio = percentile(ours, 50) / percentile(bare, 50)
    print(
        f"{backend:10s} {args.cases} cases (built in {built:.1f} s), {args.refreshes} refreshes, "
        f"{found / args.refreshes:.1f} matches each on average\n"
        f"{'':10s} bare candidate query  p50 {percentile(bare, 50):7.1f} ms  "
        f"p99 {percentile(bare, 99):7.1f} ms\n"
        f"{'':10s} refresh_matches       p50 {percentile(ours, 50):7.1f} ms  "
        f"p99 {percentile(ours, 99):7.1f} ms   ratio {ratio:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--refreshes", type=int, default=40)
    parser.add_argument("--faces", type=float, default=0.3)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    backends = ("sqlite",) if args.sqlite_only else ("sqlite", "postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            run_backend(backend, Path(tmp), args)
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
