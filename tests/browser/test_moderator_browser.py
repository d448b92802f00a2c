"""A moderator's shift in a real browser: `tipline run` (uvicorn, SQLite via the migrations) and
headless Chromium through Playwright. The moderator comes in through `tipline user invite` and the
set-up page, signs in with password and TOTP, works the queue with the keyboard, decides tips
with keys, and the test checks the database changed. (The case and tips are seeded with their
scores; staff never are.)

Needs /usr/bin/chromium (Debian's `chromium` package; `playwright install` is not used). Skips
without it locally; fails under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Case, Decision, OutboxMessage, Tip, TipCluster, Tipster
from storage.types import utcnow
from tests.browser.people import CHROMIUM, CHROMIUM_ARGS, Person, enrol, sign_in
from tests.databases import IN_CI
from tests.processes import ROOT, TiplineProcess, tipline_env

EMAIL = "mod@example.org"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _require_browser() -> None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (uv sync --group dev)"
    else:
        missing = "" if CHROMIUM.exists() else f"{CHROMIUM} is missing (apt-get install chromium)"
    if not missing:
        return
    if IN_CI:
        pytest.fail(missing, pytrace=False)
    pytest.skip(missing)


async def _seed(url: str) -> dict[str, str]:
    """A case and a few scored tips (no staff: staff only come in through set-up links)."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            case = Case(
                full_name="Li Wei",
                status="verified",
                last_seen_at=utcnow() - timedelta(hours=6),
                last_seen_place="Xi'an railway station",
                last_seen_lat=34.2778,
                last_seen_lon=108.9631,
            )
            tipster = Tipster(pseudonym="T-K7Q2-9XRA", promising_count=2)
            session.add_all([case, tipster])
            await session.flush()
            specs = {
                "urgent": (
                    5.0,
                    True,
                    "Girl in a red coat crying at the bus stop, a man pulling her",
                ),
                "best": (80.0, False, "Saw her at the Bell Tower metro exit with a blue backpack"),
                "middle": (50.0, False, "A child like the poster, walking south on Nanda Street"),
                "held": (30.0, False, "Same coat as the poster, at the Drum Tower food street"),
                "low": (20.0, False, "Maybe her at the market last week, not sure"),
                "echo1": (15.0, False, "Child in red walking south on Nanda Street with a man"),
                "echo2": (10.0, False, "Red coat girl on Nanda St, heading south"),
            }
            tips = {
                name: _tip(case, tipster, score, urgent, text, n)
                for n, (name, (score, urgent, text)) in enumerate(specs.items())
            }
            session.add_all(tips.values())
            cluster = TipCluster(case_id=case.id, size=3, independent_sources=3)
            session.add(cluster)
            await session.flush()
            for name in ("middle", "echo1", "echo2"):
                tips[name].cluster_id = cluster.id
            await session.commit()
            return {name: tip.ref for name, tip in tips.items()} | {"cluster": cluster.ref}
    finally:
        await engine.dispose()


def _tip(case: Case, tipster: Tipster, score: float, urgent: bool, text: str, n: int) -> Tip:
    """A tip as the evidence worker leaves it: scored, with its parts (so the worker skips it)."""
    parts = [
        {"name": "base", "points": 20, "reason": "Every tip starts at 20 points."},
        {
            "name": "travel",
            "points": 15,
            "reason": "Plausible on foot: 2 km from the last-seen place, 5 hours later.",
            "data": {"distance_km": 2.1, "hours": 5.0, "mode": "on foot"},
        },
    ]
    return Tip(
        score_parts={"version": 1, "score": score, "parts": parts, "flags": []},
        evaluated_at=utcnow(),
        channel="telegram",
        text=text,
        score=score,
        urgent=urgent,
        case_id=case.id,
        tipster_id=tipster.id,
        contact_allowed=True,
        place_text="Xi'an, Shaanxi, China",
        lat=34.2612 - 0.004 * n,
        lon=108.9424 + 0.003 * (n % 3),
        location_source="pin",
        seen_at=utcnow() - timedelta(hours=5 - 0.5 * n),
    )


async def _rows(url: str) -> dict[str, tuple[str, list[str]]]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = {}
            for tip in (await session.scalars(select(Tip))).all():
                outcomes = (
                    await session.scalars(select(Decision.outcome).where(Decision.tip_id == tip.id))
                ).all()
                result[tip.ref] = (tip.status, list(outcomes))
            outbox = (await session.scalars(select(OutboxMessage.payload))).all()
            result["outbox"] = ("", [str(p) for p in outbox])
            return result
    finally:
        await engine.dispose()


def _invite_on_the_command_line(env: dict[str, str]) -> str:
    """An operator's `tipline user invite`: the one-time link it prints."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tipline",
            "user",
            "invite",
            "--role",
            "moderator",
            "--email",
            EMAIL,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[TiplineProcess, dict[str, str], str, str]]:
    """`tipline run` on a migrated, seeded SQLite file; map tiles off (no network in tests)."""
    _require_browser()
    env = tipline_env(tmp_path, TIPLINE_MAP_TILE_URL="")
    url = env["TIPLINE_DATABASE_URL"]
    migrate.upgrade(url)
    refs = asyncio.run(_seed(url))
    process = TiplineProcess(env)
    try:
        yield process, refs, _invite_on_the_command_line(env), url
    finally:
        process.stop()


@pytest.fixture
async def page(server) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        page = await context.new_page()
        page.console_errors = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda m: m.type == "error" and page.console_errors.append(m.text),  # type: ignore[attr-defined]
        )
        page.on(
            "response",
            lambda r: r.status == 404 and page.console_errors.append(f"404 {r.url}"),  # type: ignore[attr-defined]
        )
        try:
            yield page
        finally:
            await browser.close()


def _selected_ref(page) -> object:
    return page.eval_on_selector("tr.queue-row.selected", "row => row.dataset.ref")


@pytest.mark.slow
async def test_a_moderator_signs_in_and_works_the_queue_with_the_keyboard(server, page, tmp_path):
    from playwright.async_api import expect

    process, refs, link, url = server
    await page.goto(process.url + "/queue")
    assert page.url.endswith("/login")
    moderator = Person(EMAIL)
    await enrol(page, link, moderator)
    await sign_in(page, process.url, moderator)
    await page.wait_for_url("**/queue")

    order = await page.eval_on_selector_all("tr.queue-row", "rows => rows.map(r => r.dataset.ref)")
    assert order == [refs[n] for n in ("urgent", "best", "middle", "held", "low")]
    await expect(page.locator(f'tr[data-ref="{refs["middle"]}"]')).to_contain_text("3 tips")
    assert await _selected_ref(page) == refs["urgent"]
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    assert await _selected_ref(page) == refs["middle"]
    await page.keyboard.press("k")
    assert await _selected_ref(page) == refs["best"]
    screenshot = tmp_path / "dashboard-queue.png"
    await page.screenshot(path=str(screenshot), full_page=True)

    # Enter opens the selected tip (and claims it); ? shows the help; s twice marks it spam.
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/tips/{refs['best']}")
    await expect(page.locator(".claim.mine")).to_be_visible()
    await page.keyboard.press("?")
    await expect(page.locator("#help")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#help")).to_be_hidden()
    await page.keyboard.press("s")
    await expect(page.locator("#armed")).to_contain_text("Press s again")
    assert page.url.endswith(f"/tips/{refs['best']}")  # one press decides nothing
    await page.keyboard.press("s")
    await page.wait_for_url("**/queue?decided=*")
    await expect(page.locator(".notice")).to_contain_text(f"Tip {refs['best']}: spam")

    tip_screenshot = tmp_path / "dashboard-tip.png"
    await page.goto(f"{process.url}/tips/{refs['middle']}")
    await page.screenshot(path=str(tip_screenshot), full_page=True)
    # A note goes in through htmx: the list updates in place and the box empties.
    await page.fill("#notes textarea[name=text]", "Called the metro office: footage kept")
    await page.click("#notes button[type=submit]")
    await expect(page.locator("#notes-list")).to_contain_text("footage kept")
    await expect(page.locator("#notes textarea[name=text]")).to_have_value("")
    assert page.url.endswith(f"/tips/{refs['middle']}")
    await page.goto(f"{process.url}/queue")
    # Filters swap the table through htmx and keep the address bar in step.
    await page.fill("input[name=cluster]", refs["cluster"])
    await page.click("#filters button[type=submit]")
    await expect(page.locator("tr.queue-row")).to_have_count(3)
    assert f"cluster={refs['cluster']}" in page.url
    await page.goto(f"{process.url}/queue")

    # c claims the next tip (the urgent one); i focuses the question, Ctrl+Enter asks it.
    await page.keyboard.press("c")
    await page.wait_for_url(f"**/tips/{refs['urgent']}")
    await page.keyboard.press("i")
    await expect(page.locator("#question")).to_be_focused()
    await page.keyboard.type("Which way did they go?")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_url("**/queue?decided=*")

    # d asks for the other tip's reference, then decides "duplicate".
    await page.goto(f"{process.url}/tips/{refs['low']}")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept(refs["middle"])))
    await page.keyboard.press("d")
    await page.wait_for_url("**/queue?decided=*")

    # The case page: its sightings on the map (Leaflet, no tiles here) and in a timeline.
    await page.click(f'tr[data-ref="{refs["middle"]}"] a[href^="/cases/"]')
    # 7 sightings, the last-seen point and the probable area drawn from the credible sightings.
    await expect(page.locator("#case-map .leaflet-interactive")).to_have_count(9)
    await expect(page.locator(".legend .dot.area")).to_have_count(1)
    await expect(page.locator("table.timeline tbody tr")).to_have_count(7)
    case_screenshot = tmp_path / "dashboard-case.png"
    await page.screenshot(path=str(case_screenshot), full_page=True)

    if os.environ.get("TIPLINE_SAVE_SCREENSHOTS"):  # refresh docs/img after a look at them
        DOCS_IMG.mkdir(exist_ok=True)
        for shot in (screenshot, tip_screenshot, case_screenshot):
            (DOCS_IMG / shot.name).write_bytes(shot.read_bytes())
    rows = await _rows(url)
    assert rows[refs["best"]] == ("spam", ["spam"])
    assert rows[refs["urgent"]] == ("needs_info", ["needs_info"])
    assert rows[refs["low"]] == ("duplicate", ["duplicate"])
    assert rows[refs["middle"]] == ("received", [])
    assert any("Which way did they go?" in payload for payload in rows["outbox"][1])
    assert page.console_errors == []  # no CSP violation, no script error
