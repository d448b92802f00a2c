"""R4: Telegram updates generated with hypothesis from aiogram's types through the real webhook
admission and inbox processor of `tipline run`. Pass: 0 crashes; every update committed, then
handled or parked (dead) with a reason.

Every delivered body is distinct (tests/reliability/mutations.py): the bases drawn from
aiogram's types (updates.py: missing, unexpected, huge and odd-Unicode fields, unknown kinds),
then mutations of them that a cheap strategy draws (a base costs tens of milliseconds of CPU
to draw, a mutation a few), drawn in a thread while the senders deliver. All follows from one seed,
printed first with the command that prints the body an update_id had; R4_SEED=<seed> draws
the same updates again.
Short tier: 50 bases, 100 updates. Full: 500 bases, 100,000 updates.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.harness import OPEN_LIMITS, SECRET, deployment, report, tier, until
from tests.reliability.mutations import batches
from web.telegram import MAX_BODY

pytestmark = pytest.mark.reliability

BASES = int(tier(50, 500))
UPDATES = int(tier(100, 100_000))
SENDERS = 16


async def _post(hook: httpx.AsyncClient, payload: bytes) -> int:
    """POST as Telegram does, delivering again when no answer or a 5xx came (503: the database
    had no write slot to spare); 0 if no answer ever came (a body over the limit is answered
    413 before it is read, and the connection may close first)."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    status = 0
    for attempt in range(5):
        try:
            response = await hook.post("/telegram/webhook", content=payload, headers=headers)
        except httpx.TransportError:
            continue
        status = response.status_code
        if status < 500:
            return status
        await asyncio.sleep(attempt + 1)
    return status


def _next_batch(stream: Iterator[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float]:
    """The stream's next batch (empty at its end) and the CPU seconds drawing it took."""
    started = time.thread_time()
    batch = next(stream, [])
    return batch, time.thread_time() - started


async def _draw(
    queue: asyncio.Queue[tuple[int, dict[str, Any]] | None], seed: int
) -> list[tuple[int, float]]:
    """Put the seed's updates on the queue, numbered, then None for each sender; each batch's
    size and the CPU seconds drawing it took (in a thread, so the senders deliver one batch
    while the next is drawn). The first batch is the bases."""
    stream = batches(count=UPDATES, bases=BASES, from_seed=seed)
    update_id, costs = 0, []
    while True:
        batch, took = await asyncio.to_thread(_next_batch, stream)
        if not batch:
            break
        costs.append((len(batch), took))
        for body in batch:
            update_id += 1
            await queue.put((update_id, body))
    for _ in range(SENDERS):
        await queue.put(None)
    return costs


async def _deliver(url: str, seed: int) -> tuple[dict[str, int], list[tuple[int, float]]]:
    """Each update's answer, counted as "200", or "oversized:413" for a body over the limit;
    what drawing the updates cost (see _draw)."""
    answers: dict[str, int] = {}
    queue: asyncio.Queue[tuple[int, dict[str, Any]] | None] = asyncio.Queue(maxsize=2_000)
    async with httpx.AsyncClient(base_url=url, timeout=60) as hook:

        async def sender() -> None:
            # A few at a time, fed from one queue: 100,000 tasks at once would cost the
            # driver's memory and CPU, not the server's.
            while (item := await queue.get()) is not None:
                update_id, body = item
                payload = json.dumps({"update_id": update_id, **body}).encode()
                status = await _post(hook, payload)
                key = f"oversized:{status}" if len(payload) > MAX_BODY else str(status)
                answers[key] = answers.get(key, 0) + 1
                if update_id % 10_000 == 0:
                    print(f"  R4 {update_id} sent", flush=True)

        drawing, *_ = await asyncio.gather(_draw(queue, seed), *(sender() for _ in range(SENDERS)))
    return answers, drawing


def test_r4_generated_updates_are_all_committed_then_handled_or_parked(tmp_path: Path):
    seed = int(os.environ.get("R4_SEED") or random.randrange(2**32))
    show = f"python -m tests.reliability.mutations --seed {seed} --bases {BASES} --count {UPDATES}"
    print(
        f"\n[R4] seed={seed}: R4_SEED={seed} draws the same updates again; "
        f"`{show} --show <update_id>` prints one",
        flush=True,
    )
    with deployment(tmp_path, backend="sqlite", **OPEN_LIMITS) as app:
        answers, costs = asyncio.run(_deliver(app.url, seed))

        async def drained() -> bool:
            rows = await app.sql("SELECT count(*) FROM inbox_updates WHERE status = 'pending'")
            return rows[0][0] == 0

        asyncio.run(until(drained, timeout=tier(900, 3600), interval=5))
        rows = asyncio.run(app.sql("SELECT status, last_error FROM inbox_updates"))
        alive = app.run.proc.poll() is None
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for status, error in rows:
        statuses[status] = statuses.get(status, 0) + 1
        if status == "dead":
            reason = (error or "").split(":")[0][:40]
            reasons[reason] = reasons.get(reason, 0) + 1
    mutated = sum(size for size, _ in costs[1:])
    report(
        "R4 generated updates",
        seed=seed,
        bases=costs[0][0],
        bases_draw_cpu_seconds=costs[0][1],
        mutated=mutated,
        mutation_draw_cpu_ms=sum(cpu for _, cpu in costs[1:]) / max(mutated, 1) * 1000,
        sent=sum(answers.values()),
        answers=answers,
        committed=len(rows),
        inbox=statuses,
        parked_reasons=reasons,
        crashed=0 if alive else 1,
    )
    assert alive
    # Telegram sends nothing over 1 MiB; a generated body that big is refused, never admitted.
    admitted = answers.get("200", 0)
    assert set(answers) <= {"200", "oversized:413", "oversized:0"}
    assert sum(answers.values()) == UPDATES
    assert len(rows) == admitted
    assert set(statuses) <= {"done", "dead"}
    assert all(error for status, error in rows if status == "dead")
