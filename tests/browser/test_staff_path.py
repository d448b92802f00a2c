"""Every staff role's whole path, through the product's own doors only, in headless Chromium:

`tipline run` (SQLite, migrations, the fake Bot API in its own process) prints the first-admin
link; the admin enrols and invites a moderator and a senior moderator from the Staff page; each
enrols from their link (TOTP computed from the secret on the page) and signs in. The senior
registers and verifies a case and makes a family link, which a family member uses in Telegram;
a member of the public reports a sighting on the web form; the moderator links that tip to the
case, decides it promising and forwards it, and the family's chat receives the lead. Last, the
senior signs in with a recovery code instead of TOTP, once.

No row is written to the database by this test: it only reads it to check the outcome.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.db import create_engine, create_sessionmaker
from storage.models import AuditEvent, Decision, StaffUser, Tip
from storage.types import utcnow
from tests.browser.people import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Person,
    enrol,
    family_link,
    first_admin_link,
    forward_as_promising,
    invite,
    register_and_verify_case,
    sign_in,
)
from tests.browser.test_moderator_browser import DOCS_IMG, _require_browser
from tests.processes import TOKEN, TiplineProcess, fake_telegram, tipline_env, wait_until

FAMILY_CHAT = 770001
SUMMARY = "A girl matching Li Wei's description was seen near the Bell Tower this afternoon."


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[TiplineProcess, object]]:
    """A fresh install: `tipline run` with no staff, its bot talking to the fake Bot API."""
    _require_browser()
    with fake_telegram("--no-rate-limit") as fake:
        env = tipline_env(
            tmp_path,
            TIPLINE_BOT_TOKEN=TOKEN,
            TIPLINE_TELEGRAM_API_BASE=fake.base_url,
            TIPLINE_MAP_TILE_URL="",
        )
        process = TiplineProcess(env)
        try:
            yield process, fake
        finally:
            process.stop()


@pytest.fixture
async def browser(running) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _page(browser: object) -> object:
    """A new person at a new computer: their own cookies."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})  # type: ignore[attr-defined]
    return await context.new_page()


async def _report_sighting(page: object, url: str) -> str:
    """As a member of the public on the web form; returns the tip's reference."""
    await page.goto(url + "/report")  # type: ignore[attr-defined]
    await page.fill(  # type: ignore[attr-defined]
        "#text", "A little girl in a red coat crying at the Bell Tower bus stop, a man with her"
    )
    await page.fill("#lat", "34.2612")  # type: ignore[attr-defined]
    await page.fill("#lon", "108.9424")  # type: ignore[attr-defined]
    local = (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    await page.check("input[name=when][value=day]")  # type: ignore[attr-defined]
    await page.fill("#date", local.strftime("%Y-%m-%d"))  # type: ignore[attr-defined]
    await page.fill("#time", local.strftime("%H:%M"))  # type: ignore[attr-defined]
    await page.click("form button.button[type=submit]")  # type: ignore[attr-defined]
    ref = await page.text_content("#ref")  # type: ignore[attr-defined]
    assert ref, await page.inner_text("main")  # type: ignore[attr-defined]
    return str(ref).strip()


async def _shoot(page: object, path: Path) -> None:
    """A full-page screenshot; TIPLINE_SAVE_SCREENSHOTS=1 keeps it in docs/img."""
    await page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("TIPLINE_SAVE_SCREENSHOTS"):
        await asyncio.to_thread(_keep, path)


def _keep(path: Path) -> None:
    DOCS_IMG.mkdir(exist_ok=True)
    (DOCS_IMG / path.name).write_bytes(path.read_bytes())


async def _read(url: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            staff = (await session.scalars(select(StaffUser))).all()
            tips = (await session.scalars(select(Tip))).all()
            decisions = (await session.scalars(select(Decision.outcome))).all()
            actions = (await session.scalars(select(AuditEvent.action))).all()
            return {
                "staff": sorted((s.email, s.role, s.totp_secret is not None) for s in staff),
                "tips": [(t.ref, t.case_id is not None, t.status) for t in tips],
                "decisions": list(decisions),
                "actions": list(actions),
            }
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_admin_moderator_and_senior_are_invited_enrol_and_work_a_lead_to_the_family(
    running, browser, tmp_path
):
    process, fake = running
    url = process.url
    admin = Person("admin@example.org")
    moderator = Person("mod@example.org")
    senior = Person("senior@example.org")

    admin_page = await _page(browser)
    await enrol(admin_page, first_admin_link(process.log), admin)
    await sign_in(admin_page, url, admin)
    assert admin_page.url.endswith("/queue")  # type: ignore[attr-defined]
    moderator_link = await invite(admin_page, url, email=moderator.email, role="moderator")
    senior_link = await invite(admin_page, url, email=senior.email, role="senior_moderator")
    await _shoot(admin_page, tmp_path / "staff-invitation.png")

    senior_page = await _page(browser)
    await enrol(senior_page, senior_link, senior)
    await _shoot(senior_page, tmp_path / "staff-recovery-codes.png")
    await sign_in(senior_page, url, senior)
    case_ref = await register_and_verify_case(senior_page, url)
    payload = await family_link(senior_page, url, case_ref)
    fake.build("command", chat_id=FAMILY_CHAT, command="start", payload=payload)  # type: ignore[attr-defined]
    wait_until(lambda: fake.sent_texts(FAMILY_CHAT), what="the family's welcome")  # type: ignore[attr-defined]

    public_page = await _page(browser)
    tip_ref = await _report_sighting(public_page, url)

    moderator_page = await _page(browser)
    await enrol(moderator_page, moderator_link, moderator)
    await sign_in(moderator_page, url, moderator)
    await forward_as_promising(moderator_page, url, tip_ref, case_ref, SUMMARY)
    lead = wait_until(
        lambda: [t for t in fake.sent_texts(FAMILY_CHAT) if "Bell Tower this afternoon" in t],  # type: ignore[attr-defined]
        timeout=60,
        what="the lead in the family's chat",
    )
    assert len(lead) == 1 and "crying" not in lead[0]  # the summary, never the tip's words

    # The senior lost their phone: a recovery code works once instead of TOTP.
    await senior_page.context.clear_cookies()  # type: ignore[attr-defined]
    await sign_in(senior_page, url, senior, code=senior.recovery_codes[0])
    assert senior_page.url.endswith("/queue")  # type: ignore[attr-defined]
    await senior_page.context.clear_cookies()  # type: ignore[attr-defined]
    await senior_page.goto(url + "/login")  # type: ignore[attr-defined]
    await senior_page.fill("#email", senior.email)  # type: ignore[attr-defined]
    await senior_page.fill("#password", "a long test passphrase")  # type: ignore[attr-defined]
    await senior_page.click("button[type=submit]")  # type: ignore[attr-defined]
    await senior_page.fill("#code", senior.recovery_codes[0])  # type: ignore[attr-defined]
    await senior_page.click("button[type=submit]")  # type: ignore[attr-defined]
    # The senior's fourth sign-in from this address: refused for the used code, not by the
    # throttle (only failures count); no session, and the recovery sign-in counted once below.
    error = await senior_page.text_content("p.error")  # type: ignore[attr-defined]
    assert error and "not recognised" in error
    assert senior_page.url.endswith("/login/code")  # type: ignore[attr-defined]

    await admin_page.goto(url + "/staff")  # type: ignore[attr-defined]
    await _shoot(admin_page, tmp_path / "staff-page.png")
    state = await asyncio.wait_for(_read(process.env["TIPLINE_DATABASE_URL"]), 30)
    assert state["staff"] == [
        ("admin@example.org", "admin", True),
        ("mod@example.org", "moderator", True),
        ("senior@example.org", "senior_moderator", True),
    ]
    assert state["tips"] == [(tip_ref, True, "promising")]
    assert state["decisions"] == ["promising"]
    actions = state["actions"]
    assert actions.count("staff.setup") == 3 and actions.count("signin.recovery_code") == 1  # type: ignore[attr-defined]
