"""Two versions of Tipline on bench/intake, in alternating pairs: what one change is worth.

python bench/intake_ab.py A_TREE B_TREE [--rounds N] [--admission]

A_TREE and B_TREE are checkouts of the project (`git archive REV | tar -x -C DIR` makes one; this
checkout's `.venv` runs both). Each round runs, in turn: the bare echo bot, `tipline run` from A
doing the whole text-tip conversation, the echo bot again, then B. Each conversation's ratio is
to the echo run just before it, so the machine's drift (the echo bot alone moves by a third within
minutes on a shared machine) falls on both sides alike. Printed per version: the median ratio to
the echo bot and the median server CPU per update (the steadier figure under load). With
`--admission`, durable admission alone on SQLite (wrk, else Python) alternates A and B as well.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

import common  # noqa: F401 - puts the project on sys.path
from intake import TOKEN, Replies, admission_alone, echo_baseline, whole_conversation

from tests.fakes.telegram.server import FakeTelegram


async def main(trees: dict[str, Path], rounds: int, *, admission: bool) -> None:
    print(f"alternating pairs, {rounds} rounds; load average {os.getloadavg()}")
    ratios: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    admitted: dict[str, list[float]] = {name: [] for name in trees}
    async with FakeTelegram(token=TOKEN, rate_limits=None, record_calls=False) as fake:
        replies = Replies(fake)
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(rounds):
                for name, root in trees.items():
                    bare = await echo_baseline(fake, replies)
                    run = Path(tmp) / f"{name}{n}"
                    whole = await whole_conversation(fake, replies, run, root, cpu[name])
                    ratios[name].append(whole / bare)
                    print(
                        f"    round {n + 1} {name}: conversation / echo = {whole / bare:.2f}, "
                        f"CPU {cpu[name][-1] * 1e3:.2f} ms/update"
                    )
                    if admission:
                        rate, _ = await admission_alone(fake, "sqlite", run, root)
                        admitted[name].append(rate)
    print(f"load average after: {os.getloadavg()}")
    for name, root in trees.items():
        line = (
            f"{name} ({root}): conversation / echo median {statistics.median(ratios[name]):.2f} "
            f"(pairs {', '.join(f'{r:.2f}' for r in ratios[name])}); "
            f"CPU median {statistics.median(cpu[name]) * 1e3:.2f} ms/update"
        )
        if admission:
            line += f"; admission SQLite median {statistics.median(admitted[name]):.0f}/s"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--admission", action="store_true")
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    asyncio.run(main(trees, args.rounds, admission=args.admission))
