"""R2: SIGKILLs at random moments across intake (the web role: webhook admission and the web
form), the inbox processor (the bot role) and the photo worker with the relay (the worker role),
each restarted at once, while tips and leads keep coming. Pass: 0 acknowledged tips lost; 0 leads
lost; duplicate sends <= kills.

PostgreSQL + Redis, the three roles as separate `tipline run --role` processes. Staff come in
through the product's own doors in headless Chromium (the first-admin link `tipline run` prints,
invitations, enrolment with TOTP); a senior moderator registers and verifies a case and makes a
family link that a family member uses in Telegram. Then, until the last kill:
- Telegram tipsters hold whole conversations over the webhook (some send a photo), redelivered
  as Telegram does while the web process is down (tests/multiprocess.py);
- members of the public send the web form, every third with a photo, and send it again when no
  answer came (only a page showing a reference counts as acknowledged);
- a moderator links web tips to the case and forwards them as promising leads to the family,
  trying again after a failure (a lead counts once its decision is committed).

Afterwards: every acknowledged Telegram update is in the inbox once and handled; every tipster who
saw "Reference:" has exactly one tip; every reference shown on the web form is a stored tip; every
family lead reached the family's chat; and the fake Bot API's record of the same text sent twice
to a chat counts no more than the kills.

Short tier: 5 kills. Full: 50.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from storage import migrate
from tests.browser import people
from tests.browser.test_moderator_browser import _require_browser
from tests.databases import fresh_database
from tests.multiprocess import SECRET, Driver, noisy_jpeg
from tests.processes import TOKEN, TiplineProcess, fake_telegram, free_port, tipline_env
from tests.reliability.harness import (
    OPEN_LIMITS,
    VAULT_KEY,
    Deployment,
    jpeg,
    report,
    tier,
    until,
    web_report,
)

pytestmark = pytest.mark.reliability

# R2_KILLS sizes a run between the tiers (a loaded machine restarts slowly).
KILLS = int(os.environ.get("R2_KILLS") or tier(5, 50))
ROLES = ("web", "bot", "worker")
# Seconds from a restarted process answering /healthz to the next kill.
PAUSE = (1.0, 6.0)
FAMILY_CHAT = 880_001
FIRST_CHAT = 820_000
SEND = ("sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "copyMessage")
REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


class Fleet:
    """One `tipline run --role R` per role, each killed and restarted in place (same port)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.envs = {role: {**env, "TIPLINE_WEB_PORT": str(free_port())} for role in ROLES}
        self.runs = {role: self._start(role) for role in ROLES}
        self.kills: Counter[str] = Counter()
        self.restart_seconds: list[float] = []

    def _start(self, role: str) -> TiplineProcess:
        return TiplineProcess(self.envs[role], "--role", role, start_timeout=600)

    @property
    def web(self) -> TiplineProcess:
        return self.runs["web"]

    def kill_and_restart(self, role: str) -> None:
        """SIGKILL the role's process, then start a new one and wait until it answers."""
        self.runs[role].kill()
        self.kills[role] += 1
        started = time.monotonic()
        self.runs[role] = self._start(role)
        self.restart_seconds.append(time.monotonic() - started)

    def stop(self) -> None:
        for run in self.runs.values():
            run.stop()


@dataclass
class Traffic:
    """What the drivers sent and what was acknowledged."""

    web_acked: dict[str, str] = field(default_factory=dict)  # reference -> text
    web_sends: int = 0
    web_unanswered: int = 0
    conversations: int = 0
    leads_acked: dict[str, str] = field(default_factory=dict)  # tip reference -> summary
    lead_retries: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)


@contextmanager
def _deployment(tmp_path: Path) -> Iterator[tuple[Fleet, Any, str]]:
    with fake_telegram("--no-rate-limit") as fake, fresh_database("postgresql", tmp_path) as url:
        migrate.upgrade(url)
        env = tipline_env(
            tmp_path,
            TIPLINE_DATABASE_URL=url,
            TIPLINE_REDIS_URL=REDIS_URL,
            TIPLINE_REDIS_PREFIX=f"r2-{uuid.uuid4().hex[:10]}:",
            TIPLINE_BOT_TOKEN=TOKEN,
            TIPLINE_TELEGRAM_API_BASE=fake.base_url,
            TIPLINE_WEBHOOK_URL="https://tipline.example.org/telegram/webhook",
            TIPLINE_WEBHOOK_SECRET=SECRET,
            TIPLINE_VAULT_KEY=VAULT_KEY,
            TIPLINE_FACES="false",
            TIPLINE_MAP_TILE_URL="",
            **OPEN_LIMITS,
        )
        fleet = Fleet(env)
        try:
            yield fleet, fake, url
        finally:
            fleet.stop()


async def _web_healthy(fleet: Fleet) -> None:
    """Wait until the web process answers (it may be restarting)."""
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(1200):
            try:
                if (await client.get(fleet.web.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)


async def _staff(browser: Any, fleet: Fleet, driver: Driver) -> tuple[Any, str]:
    """Admin, senior and moderator enrol; the senior makes a verified case and a family link
    that the family uses in Telegram. Returns the moderator's page and the case reference."""
    url = fleet.web.url
    admin, senior, moderator = (
        people.Person("admin@example.org"),
        people.Person("senior@example.org"),
        people.Person("mod@example.org"),
    )
    pages = [await (await browser.new_context()).new_page() for _ in range(3)]
    await people.enrol(pages[0], people.first_admin_link(fleet.web.log), admin)
    await people.sign_in(pages[0], url, admin)
    senior_link = await people.invite(pages[0], url, email=senior.email, role="senior_moderator")
    moderator_link = await people.invite(pages[0], url, email=moderator.email, role="moderator")
    await people.enrol(pages[1], senior_link, senior)
    await people.sign_in(pages[1], url, senior)
    case_ref = await people.register_and_verify_case(pages[1], url)
    payload = await people.family_link(pages[1], url, case_ref)
    # The family's /start goes to the webhook as Telegram would send it; wait for the welcome.
    start = await driver.build("command", chat_id=FAMILY_CHAT, command="start", payload=payload)
    await driver.deliver(start)
    await driver.expect(FAMILY_CHAT, "", 0)
    await people.enrol(pages[2], moderator_link, moderator)
    await people.sign_in(pages[2], url, moderator)
    pages[2].set_default_timeout(20_000)
    return pages[2], case_ref


async def _decided(db: Any, ref: str) -> bool:
    """Whether the tip's decision is committed (the server on this machine is shared: when it
    has no connection to spare, ask again)."""
    query = "SELECT count(*) FROM decisions d JOIN tips t ON t.id = d.tip_id WHERE t.ref = $1"
    for _ in range(60):
        try:
            rows = await db(query, ref)
        except asyncpg.TooManyConnectionsError:
            await asyncio.sleep(1.0)
            continue
        return bool(rows[0][0])
    raise AssertionError("the database had no connection to spare for a minute")


async def _leads(page: Any, fleet: Fleet, case_ref: str, traffic: Traffic, db: Any) -> None:
    """Forward acknowledged web tips as promising leads, one after another, until stopped."""
    done: set[str] = set()
    while not traffic.stop.is_set():
        waiting = [ref for ref in traffic.web_acked if ref not in done]
        if not waiting:
            await asyncio.sleep(0.5)
            continue
        ref = waiting[0]
        done.add(ref)
        summary = f"R2 lead {len(done)}: a girl like Li Wei seen near the Bell Tower."
        for _ in range(30):
            try:
                await people.forward_as_promising(page, fleet.web.url, ref, case_ref, summary)
            except Exception:  # noqa: BLE001 - a killed web process: any page error; try again
                traffic.lead_retries += 1
                await _web_healthy(fleet)
            if await _decided(db, ref):
                traffic.leads_acked[ref] = summary
                break


async def _web_tips(fleet: Fleet, traffic: Traffic) -> None:
    """A member of the public about every second; sends again while no reference is shown."""
    n = 0
    while not traffic.stop.is_set():
        n += 1
        text = f"R2 web sighting {n}: a girl in a green coat at the Bell Tower bus stop"
        photo = jpeg(n) if n % 3 == 0 else None
        for _ in range(60):
            traffic.web_sends += 1
            try:
                async with httpx.AsyncClient(base_url=fleet.web.url, timeout=30) as client:
                    _, ref = await web_report(client, text, photo=photo)
            except httpx.TransportError:
                ref = None
            if ref:
                traffic.web_acked[ref] = text
                break
            traffic.web_unanswered += 1
            await asyncio.sleep(1.0)
        await asyncio.sleep(1.0)


async def _tipsters(driver: Driver, traffic: Traffic) -> None:
    """A new Telegram tipster every 2 s (every fourth with a photo); all finish their report."""
    chats: list[asyncio.Task[None]] = []
    n = 0
    while not traffic.stop.is_set():
        photo = noisy_jpeg(n) if n % 4 == 0 else None
        talk = driver.converse(FIRST_CHAT + n, photo, child="I don't know which child")
        chats.append(asyncio.create_task(talk))
        n += 1
        await asyncio.sleep(2.0)
    await asyncio.gather(*chats)
    traffic.conversations = n


async def _killer(fleet: Fleet, traffic: Traffic, rng: random.Random) -> None:
    """KILLS SIGKILLs, each at a random moment after the last restarted process came back."""
    await asyncio.sleep(rng.uniform(3.0, 8.0))
    for n in range(KILLS):
        role = rng.choice(ROLES)
        await asyncio.to_thread(fleet.kill_and_restart, role)
        back, tips = fleet.restart_seconds[-1], len(traffic.web_acked)
        line = f"  R2 kill {n + 1}/{KILLS}: {role} back in {back:.1f} s, {tips} web tips"
        print(line, flush=True)
        await asyncio.sleep(rng.uniform(*PAUSE))
    traffic.stop.set()


async def _run(fleet: Fleet, fake: Any, db: Any) -> tuple[Traffic, Driver]:
    from playwright.async_api import async_playwright

    traffic = Traffic()
    driver = Driver(fake.base_url, [fleet.web.url + "/telegram/webhook"])
    tail = asyncio.create_task(driver.tail())
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(people.CHROMIUM), args=people.CHROMIUM_ARGS
        )
        try:
            page, case_ref = await _staff(browser, fleet, driver)
            await asyncio.gather(
                _killer(fleet, traffic, random.Random(20261207)),
                _tipsters(driver, traffic),
                _web_tips(fleet, traffic),
                _leads(page, fleet, case_ref, traffic, db),
            )
        finally:
            await browser.close()
            tail.cancel()
            await driver.close()
    return traffic, driver


def _sends(fake: Any) -> list[tuple[int, str]]:
    """(chat, text or caption) of every message the fake Bot API accepted."""
    sent = []
    for call in fake.control("calls")["calls"]:
        params = call["params"]
        if call["method"] in SEND and call.get("result") and "chat_id" in params:
            words = params.get("text") or params.get("caption") or ""
            sent.append((int(params["chat_id"]), str(words)))
    return sent


def _counts(rows: list[Any]) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in rows}


def test_r2_sigkills_lose_no_acknowledged_tip_or_lead(tmp_path: Path):
    _require_browser()
    with _deployment(tmp_path) as (fleet, fake, url):
        db = Deployment(fleet.web, url, fake).sql
        traffic, driver = asyncio.run(_run(fleet, fake, db))

        async def drained() -> bool:
            rows = await db(
                "SELECT (SELECT count(*) FROM inbox_updates WHERE status = 'pending')"
                " + (SELECT count(*) FROM tip_photos WHERE status = 'quarantined')"
                " + (SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending'))"
            )
            return rows[0][0] == 0

        asyncio.run(until(drained, timeout=600, interval=1))
        inbox = asyncio.run(db("SELECT status, count(*) FROM inbox_updates GROUP BY status"))
        tips = asyncio.run(db("SELECT ref, channel, text FROM tips"))
        photos = asyncio.run(db("SELECT status, count(*) FROM tip_photos GROUP BY status"))
        outbox = asyncio.run(db("SELECT status, count(*) FROM outbox_messages GROUP BY status"))
        forwards = asyncio.run(db("SELECT summary FROM forwards WHERE audience = 'family'"))
        sends = _sends(fake)
    stored = {ref: text for ref, _, text in tips}
    web_lost = [ref for ref, text in traffic.web_acked.items() if stored.get(ref) != text]
    telegram_tips = Counter(
        int(found.group(1))
        for _, channel, text in tips
        if channel == "telegram" and (found := re.search(r"chat (\d+)", text))
    )
    # A tipster shown "Reference:" has an acknowledged tip: it must exist exactly once.
    referenced = {chat for chat, text in sends if chat != FAMILY_CHAT and "Reference:" in text}
    telegram_lost = [chat for chat in referenced if telegram_tips[chat] == 0]
    telegram_twice = [chat for chat, count in telegram_tips.items() if count > 1]
    family = [text for chat, text in sends if chat == FAMILY_CHAT]
    leads_lost = [s for s in traffic.leads_acked.values() if not any(s in t for t in family)]
    forwarded = {row[0] for row in forwards}
    per_chat_text = Counter(send for send in sends if send[1])
    twice = {f"{chat}:{text[:30]}": n for (chat, text), n in per_chat_text.items() if n > 1}
    duplicates = sum(count - 1 for count in per_chat_text.values())
    kills = sum(fleet.kills.values())
    report(
        "R2 kills",
        kills=dict(fleet.kills),
        restart_s_median=sorted(fleet.restart_seconds)[len(fleet.restart_seconds) // 2],
        restart_s_max=max(fleet.restart_seconds),
        conversations=traffic.conversations,
        telegram_tips=sum(telegram_tips.values()),
        updates_acked=driver.delivered,
        redeliveries=driver.redeliveries,
        web_sends=traffic.web_sends,
        web_acked=len(traffic.web_acked),
        web_unanswered=traffic.web_unanswered,
        leads=len(traffic.leads_acked),
        lead_retries=traffic.lead_retries,
        family_messages=len(family),
        lost_tips=len(web_lost) + len(telegram_lost),
        tips_twice=len(telegram_twice),
        lost_leads=len(leads_lost),
        duplicate_sends=duplicates,
        sent_twice=twice,
        inbox=_counts(inbox),
        photos=_counts(photos),
        outbox=_counts(outbox),
    )
    assert kills == KILLS
    assert traffic.leads_acked, "no lead was forwarded during the kills"
    assert web_lost == [] and telegram_lost == [] and telegram_twice == []
    assert len(referenced) == traffic.conversations  # every tipster finished with a reference
    assert leads_lost == [] and set(traffic.leads_acked.values()) <= forwarded
    assert _counts(inbox).keys() <= {"done"}
    assert duplicates <= kills
