"""R8: floods while real tipsters report. Pass: every real tipster's report stored (web) or
answered (bot); the flood limited; nothing admitted lost.

One source floods the web form and the bot. Behind a trusted proxy
(TIPLINE_TRUSTED_PROXIES=127.0.0.1) each web client has its own address; the flood also drops its
cookies, as a script would. Short tier: a flood of 150 of each kind and 10 real tipsters on each
door. Full: 500 of each and 40 real tipsters.

Then many accounts (a botnet, each account within its own rate) flood the bot's webhook, one
message each, with the overall rate of chat messages set low (TIPLINE_CHAT_LIMITS_OVERALL, for
the whole deployment: the one-source flood stays below it), while real tipsters start a report.
Short tier: 200 accounts at 120/4s; full: 1,000 at 100/10s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.reliability.harness import (
    Deployment,
    deployment,
    report,
    text_update,
    tier,
    until,
    web_report,
)

pytestmark = pytest.mark.reliability

FLOOD = int(tier(150, 500))
REAL = int(tier(10, 40))
FLOOD_CHAT = 66_000
PER_MINUTE = 30  # handlers.context.Limits.messages_per_minute
ACCOUNTS = int(tier(200, 1000))
OVERALL, WINDOW = int(tier(120, 100)), tier(4.0, 10.0)
RATE = f"{OVERALL}/{WINDOW:g}s"  # TIPLINE_CHAT_LIMITS_OVERALL: the one-source flood stays below
BUSY = "Many messages are reaching the tip line right now"
SIGHTING = "I saw the boy at the station"


def start_update(update_id: int, chat_id: int) -> dict[str, Any]:
    """/start, as Telegram sends a command."""
    update = text_update(update_id, chat_id, "/start")
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    return update


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
            statuses.append(await app.post_update(hook, start_update(9_000_000 + n, 70_000 + n)))

        await asyncio.gather(flood(), *(real(n) for n in range(REAL)))
    return statuses


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment for both floods (its start is a third of the short tier's time)."""
    with deployment(
        tmp_path_factory.mktemp("r8"),
        backend="sqlite",
        TIPLINE_TRUSTED_PROXIES="127.0.0.1",
        TIPLINE_CHAT_LIMITS_OVERALL=RATE,
    ) as app:
        yield app


def test_r8_a_flood_from_one_source_does_not_crowd_out_real_tipsters(app: Deployment):
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


def _answers(app: Deployment, chat_id: int) -> list[str]:
    """What the bot said in a chat, but the notice that a message is kept for later."""
    return [text for text in app.fake.sent_texts(chat_id) if not text.startswith(BUSY)]


async def _many_accounts(app: Deployment) -> list[int]:
    """The botnet's messages, then real tipsters: /start, and their sighting once welcomed."""
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as hook:

        async def account(n: int) -> None:
            update = text_update(8_500_000 + n, 200_000 + n, f"spam {n}")
            statuses.append(await app.post_update(hook, update))

        async def real(n: int) -> None:
            chat = 80_000 + n
            statuses.append(await app.post_update(hook, start_update(9_500_000 + n, chat)))

            async def welcomed() -> bool:
                return bool(_answers(app, chat))

            await until(welcomed, timeout=240)
            sighting = text_update(9_600_000 + n, chat, f"{SIGHTING}, {n}")
            statuses.append(await app.post_update(hook, sighting))

        for start in range(0, ACCOUNTS, 50):
            await asyncio.gather(*(account(n) for n in range(start, min(start + 50, ACCOUNTS))))
        await asyncio.gather(*(real(n) for n in range(REAL)))
    return statuses


def _most_in_a_window(times: list[datetime], window: float) -> int:
    """The most of these moments that fall within any `window` seconds."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while (at - times[first]).total_seconds() >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def _moments(rows: list[Any], low: int, high: int) -> list[datetime]:
    return [datetime.fromisoformat(str(at)) for update_id, at in rows if low <= update_id < high]


def test_r8_a_flood_from_many_accounts_is_held_to_the_overall_rate(app: Deployment):
    started = datetime.now()
    webhook = asyncio.run(_many_accounts(app))

    async def settled() -> bool:
        pending = await app.sql("SELECT count(*) FROM inbox_updates WHERE status != 'done'")
        return pending[0][0] == 0

    asyncio.run(until(settled, timeout=600))
    took = (datetime.now() - started).total_seconds()
    real_answered = sum(1 for n in range(REAL) if len(_answers(app, 80_000 + n)) >= 2)
    told = sum(1 for n in range(REAL) if len(app.fake.sent_texts(80_000 + n)) > 2)
    flood_told = sum(
        1
        for n in range(ACCOUNTS)
        if len(app.fake.sent_texts(200_000 + n)) > len(_answers(app, 200_000 + n))
    )
    rows = asyncio.run(app.sql("SELECT update_id, processed_at FROM inbox_updates"))
    statuses = asyncio.run(app.sql("SELECT status, count(*) FROM inbox_updates GROUP BY 1"))
    flood_answered = sum(1 for n in range(ACCOUNTS) if _answers(app, 200_000 + n))
    flood = _moments(rows, 8_500_000, 8_500_000 + ACCOUNTS)
    handled = _moments(rows, 8_500_000, 10**9)  # the many-account part's updates
    flood_peak = _most_in_a_window(flood, WINDOW)
    span = (max(flood) - min(flood)).total_seconds()
    report(
        "R8 many accounts",
        accounts=ACCOUNTS,
        overall=RATE,
        flood_handled=len(flood),
        flood_answered=f"{flood_answered}/{ACCOUNTS}",
        flood_peak_per_window=flood_peak,
        flood_span_s=span,
        flood_mean_per_window=(len(flood) - 1) / span * WINDOW,
        all_peak_per_window=_most_in_a_window(handled, WINDOW),
        real_answered=f"{real_answered}/{REAL}",
        real_told_to_wait=told,
        flood_told_to_wait=flood_told,
        webhook_acked=f"{webhook.count(200)}/{len(webhook)}",
        inbox=dict((status, count) for status, count in statuses),
        seconds=took,
    )
    assert webhook.count(200) == len(webhook) == ACCOUNTS + 2 * REAL
    assert dict(statuses) == {"done": len(app.acked)}  # every admitted update handled: none lost
    assert real_answered == REAL
    assert flood_answered == ACCOUNTS
    # Openings may take half the overall rate; the bound checked is the whole of it, as the
    # moments of commit trail the moments of admission by the time each update took.
    assert flood_peak <= OVERALL
