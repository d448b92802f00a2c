"""R8: one source floods the web form and the bot while real tipsters report.
Pass: every real tipster's report stored (web) or answered (bot); the flood limited.

Behind a trusted proxy (TIPLINE_TRUSTED_PROXIES=127.0.0.1) each web client has its own address;
the flood also drops its cookies, as a script would. Short tier: a flood of 150 of each kind and
10 real tipsters on each door. Full: 500 of each and 40 real tipsters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.reliability.harness import deployment, report, text_update, tier, until, web_report

pytestmark = pytest.mark.reliability

FLOOD = int(tier(150, 500))
REAL = int(tier(10, 40))
FLOOD_CHAT = 66_000
PER_MINUTE = 30  # handlers.context.Limits.messages_per_minute


async def _web(url: str) -> tuple[list[int], list[str | None]]:
    flood_statuses: list[int] = []
    real_refs: list[str | None] = []

    async def flood() -> None:
        for n in range(FLOOD):
            async with httpx.AsyncClient(base_url=url, timeout=60) as script:
                status, _ = await web_report(
                    script, f"fake {n}", **{"X-Forwarded-For": "203.0.113.66"}
                )
            flood_statuses.append(status)

    async def real(n: int) -> None:
        await asyncio.sleep(n * 0.5)
        async with httpx.AsyncClient(base_url=url, timeout=60) as person:
            _, ref = await web_report(
                person,
                f"I saw the boy at the station, {n}",
                **{"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
        real_refs.append(ref)

    await asyncio.gather(flood(), *(real(n) for n in range(REAL)))
    return flood_statuses, real_refs


async def _bot(app) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as hook:

        async def flood() -> None:
            for n in range(FLOOD):
                statuses.append(
                    await app.post_update(hook, text_update(8_000_000 + n, FLOOD_CHAT, f"spam {n}"))
                )

        async def real(n: int) -> None:
            await asyncio.sleep(n * 0.3)
            update = text_update(9_000_000 + n, 70_000 + n, "/start")
            update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
            statuses.append(await app.post_update(hook, update))

        await asyncio.gather(flood(), *(real(n) for n in range(REAL)))
    return statuses


def test_r8_a_flood_from_one_source_does_not_crowd_out_real_tipsters(tmp_path: Path):
    with deployment(tmp_path, backend="sqlite", TIPLINE_TRUSTED_PROXIES="127.0.0.1") as app:
        flood_statuses, real_refs = asyncio.run(_web(app.url))
        webhook = asyncio.run(_bot(app))

        async def answered() -> bool:
            return all(app.fake.sent_texts(70_000 + n) for n in range(REAL))

        asyncio.run(until(answered, timeout=300))
        real_answered = sum(1 for n in range(REAL) if app.fake.sent_texts(70_000 + n))
        flood_replies = len(app.fake.sent_texts(FLOOD_CHAT))
        tips = asyncio.run(app.sql("SELECT ref FROM tips WHERE channel = 'web'"))
    stored = {row[0] for row in tips}
    real_stored = sum(1 for ref in real_refs if ref in stored)
    flood_stored = len(stored) - real_stored
    report(
        "R8 flood",
        web_flood=FLOOD,
        web_flood_stored=flood_stored,
        web_flood_429=flood_statuses.count(429),
        web_real_stored=f"{real_stored}/{REAL}",
        bot_flood=FLOOD,
        bot_flood_replies=flood_replies,
        bot_real_answered=f"{real_answered}/{REAL}",
        webhook_acked=f"{webhook.count(200)}/{len(webhook)}",
    )
    assert real_stored == REAL
    assert flood_stored <= 40  # the address's hourly limit
    assert real_answered == REAL
    assert flood_replies <= PER_MINUTE + 2  # the minute's messages and one notice
