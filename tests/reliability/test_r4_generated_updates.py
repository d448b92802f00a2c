"""R4: Telegram updates generated with hypothesis from aiogram's types (tests/reliability/
updates.py: missing, unexpected, huge and odd-Unicode fields, unknown kinds) through the real
webhook admission and inbox processor of `tipline run`. Pass: 0 crashes; every update committed,
then handled or parked (dead) with a reason.

Hypothesis draws ~0.1-0.3 s per update here (aiogram's types are large), so it draws a corpus of
distinct updates and each is delivered CYCLES times under a fresh update_id.
Short tier: 100 drawn, sent once. Full: 500 drawn, 200 cycles: 100,000 updates.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.reliability.harness import OPEN_LIMITS, SECRET, deployment, report, tier, until
from tests.reliability.updates import updates
from web.telegram import MAX_BODY

pytestmark = pytest.mark.reliability

DRAWN = int(tier(100, 500))
CYCLES = int(tier(1, 200))


def _draw() -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=DRAWN,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(updates())
    def collect(update: dict[str, Any]) -> None:
        drawn.append(update)

    collect()
    return drawn


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


async def _deliver(url: str, corpus: list[dict[str, Any]]) -> dict[str, int]:
    """Each update's answer, counted as "200", or "oversized:413" for a body over the limit."""
    answers: dict[str, int] = {}
    numbered = (
        (cycle * len(corpus) + n + 1, body)
        for cycle in range(CYCLES)
        for n, body in enumerate(corpus)
    )
    async with httpx.AsyncClient(base_url=url, timeout=60) as hook:

        async def sender() -> None:
            # 16 at a time, fed from one generator: 100,000 tasks at once would cost the
            # driver's memory and CPU, not the server's.
            for update_id, body in numbered:
                payload = json.dumps({"update_id": update_id, **body}).encode()
                status = await _post(hook, payload)
                key = f"oversized:{status}" if len(payload) > MAX_BODY else str(status)
                answers[key] = answers.get(key, 0) + 1
                if update_id % 10_000 == 0:
                    print(f"  R4 {update_id} sent", flush=True)

        await asyncio.gather(*(sender() for _ in range(16)))
    return answers


def test_r4_generated_updates_are_all_committed_then_handled_or_parked(tmp_path: Path):
    started = time.monotonic()
    corpus = _draw()
    drawn_in = time.monotonic() - started
    with deployment(tmp_path, backend="sqlite", **OPEN_LIMITS) as app:
        answers = asyncio.run(_deliver(app.url, corpus))

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
    report(
        "R4 generated updates",
        drawn=len(corpus),
        draw_seconds=drawn_in,
        sent=len(corpus) * CYCLES,
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
    assert admitted + answers.get("oversized:413", 0) + answers.get("oversized:0", 0) == (
        len(corpus) * CYCLES
    )
    assert len(rows) == admitted
    assert set(statuses) <= {"done", "dead"}
    assert all(error for status, error in rows if status == "dead")
