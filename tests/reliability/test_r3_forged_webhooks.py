"""R3: forged webhook requests: no secret, a wrong secret, replays, oversized, malformed JSON.
Pass: 100% refused (a replay is answered but never admitted twice); nothing admitted.

Short tier: 250 requests. Full: 10,000.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.reliability.harness import SECRET, deployment, report, text_update, tier

pytestmark = pytest.mark.reliability

REQUESTS = int(tier(250, 10_000))
KINDS = ("no secret", "wrong secret", "replay", "oversized", "malformed")


def _forgery(kind: str, n: int) -> tuple[dict[str, str], bytes]:
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    body = json.dumps(text_update(5_000_000 + n, 900 + n % 50, f"forged {n}")).encode()
    if kind == "no secret":
        return {"Content-Type": "application/json"}, body
    if kind == "wrong secret":
        return {**good, "X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "x"}, body
    if kind == "replay":
        return good, json.dumps(text_update(1, 901, "the one real update")).encode()
    if kind == "oversized":
        padded = text_update(6_000_000 + n, 902, "x" * (2 * 1024 * 1024))
        return good, json.dumps(padded).encode()
    return good, b'{"update_id": 7, "message": {"text": "unterminated' + str(n).encode()


async def _forge(url: str) -> dict[str, dict[int, int]]:
    answers: dict[str, dict[int, int]] = {kind: {} for kind in KINDS}
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        real = text_update(1, 901, "the one real update")
        first = await client.post(
            "/telegram/webhook", json=real, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert first.status_code == 200

        async def one(n: int) -> None:
            kind = KINDS[n % len(KINDS)]
            headers, body = _forgery(kind, n)
            async with gate:
                try:
                    response = await client.post("/telegram/webhook", content=body, headers=headers)
                    status = response.status_code
                except httpx.TransportError:
                    status = 0  # the server answered early and closed: refused unread
            answers[kind][status] = answers[kind].get(status, 0) + 1

        await asyncio.gather(*(one(n) for n in range(REQUESTS)))
    return answers


def test_r3_forged_webhook_requests_admit_nothing(tmp_path: Path):
    with deployment(tmp_path, backend="sqlite") as app:
        answers = asyncio.run(_forge(app.url))
        rows = asyncio.run(app.sql("SELECT update_id FROM inbox_updates"))
    admitted = [row[0] for row in rows]
    refused = sum(
        n
        for kind, by in answers.items()
        if kind != "replay"
        for s, n in by.items()
        if s >= 400 or s == 0
    )
    forged = sum(n for kind, by in answers.items() if kind != "replay" for n in by.values())
    report(
        "R3 forged webhooks",
        requests=REQUESTS,
        refused_pct=100.0 * refused / forged,
        admitted_besides_the_real_one=len(admitted) - 1,
        answers={k: dict(sorted(v.items())) for k, v in answers.items()},
    )
    assert admitted == [1]  # the one real update, once, whatever was replayed
    assert refused == forged
