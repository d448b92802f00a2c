"""How staff reach the dashboard in a real browser: a set-up link, enrolment, sign-in; and the
few pages a lead goes through: a verified case, a family link, a tip forwarded as promising.

Everything goes through the product's own pages: the TOTP secret is read off the set-up page
(as a person types it into an authenticator app) and codes are computed from it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pyotp

from storage.types import utcnow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "a long test passphrase"
FIRST_ADMIN_LINK = re.compile(r"one-time link: (\S+/setup/\S+)")


@dataclass
class Person:
    """A staff member as the test knows them: what they typed and what the pages showed."""

    email: str
    totp: pyotp.TOTP | None = None
    recovery_codes: list[str] = field(default_factory=list)

    def next_code(self) -> str:
        """A code from the authenticator. The code used at enrolment is spent (a code is never
        accepted twice), and the server accepts one step either side: take the next step's."""
        assert self.totp is not None
        return self.totp.at(time.time() + self.totp.interval)


def first_admin_link(log: Path) -> str:
    """The set-up link `tipline run` prints at first start."""
    found = FIRST_ADMIN_LINK.search(log.read_text())
    assert found, f"no first-admin link in {log}"
    return found.group(1)


async def enrol(page: object, link: str, person: Person) -> None:
    """Open a set-up link, add the secret to 'the app', choose the password, prove a code."""
    await page.goto(link)  # type: ignore[attr-defined]
    secret = (await page.text_content("#totp-secret")).strip()  # type: ignore[attr-defined]
    person.totp = pyotp.TOTP(secret)
    if await page.is_editable("#email"):  # type: ignore[attr-defined] # links for one address fix it
        await page.fill("#email", person.email)  # type: ignore[attr-defined]
    await page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    await page.fill("#code", person.totp.now())  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_selector("#recovery-codes")  # type: ignore[attr-defined]
    codes = await page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#recovery-codes code", "nodes => nodes.map(n => n.textContent)"
    )
    person.recovery_codes = list(codes)


async def sign_in(page: object, base_url: str, person: Person, *, code: str | None = None) -> None:
    """Password, then the authenticator's code (or a recovery code)."""
    await page.goto(base_url + "/login")  # type: ignore[attr-defined]
    await page.fill("#email", person.email)  # type: ignore[attr-defined]
    await page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_url("**/login/code")  # type: ignore[attr-defined]
    await page.fill("#code", code or person.next_code())  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_function("!location.pathname.startsWith('/login')")  # type: ignore[attr-defined]


async def invite(page: object, base_url: str, *, email: str, role: str) -> str:
    """As an admin on the Staff page: invite someone and read the link shown once."""
    await page.goto(base_url + "/staff")  # type: ignore[attr-defined]
    await page.fill("#invite-email", email)  # type: ignore[attr-defined]
    await page.select_option("#invite-role", role)  # type: ignore[attr-defined]
    await page.fill("#invite-reason", f"new {role.replace('_', ' ')} volunteer")  # type: ignore[attr-defined]
    await page.click("#invite button[type=submit]")  # type: ignore[attr-defined]
    link = await page.text_content("#setup-link")  # type: ignore[attr-defined]
    return str(link).strip()


async def register_and_verify_case(page: object, url: str) -> str:
    """As the senior moderator: register the case, then verify it (police reference given)."""
    seen = utcnow() - timedelta(hours=6)
    await page.goto(url + "/cases/new")  # type: ignore[attr-defined]
    await page.fill("#full_name", "Li Wei")  # type: ignore[attr-defined]
    await page.fill("#age_years", "4")  # type: ignore[attr-defined]
    await page.fill("#last_seen_date", seen.strftime("%Y-%m-%d"))  # type: ignore[attr-defined]
    await page.fill("#last_seen_time", seen.strftime("%H:%M"))  # type: ignore[attr-defined]
    await page.fill("#last_seen_place", "Xi'an railway station")  # type: ignore[attr-defined]
    await page.fill("#lat", "34.2778")  # type: ignore[attr-defined]
    await page.fill("#lon", "108.9631")  # type: ignore[attr-defined]
    await page.fill("#police_ref", "XA-2026-0412")  # type: ignore[attr-defined]
    await page.fill("#contact", "Mother, +86 29 5555 0101")  # type: ignore[attr-defined]
    await page.click("form.case-form button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_load_state()  # type: ignore[attr-defined]
    assert re.search(r"/cases/[A-Z0-9-]+$", page.url), await page.inner_text("main")  # type: ignore[attr-defined]
    ref = page.url.rsplit("/", 1)[1]  # type: ignore[attr-defined]
    await page.fill("form.lifecycle #reason", "police report checked by phone")  # type: ignore[attr-defined]
    await page.click("form.lifecycle button[value=verified]")  # type: ignore[attr-defined]
    await page.wait_for_url(f"**/cases/{ref}*")  # type: ignore[attr-defined]
    return str(ref)


async def family_link(page: object, url: str, case_ref: str) -> str:
    """As the senior moderator: a one-time family link; returns its /start payload."""
    await page.goto(f"{url}/cases/{case_ref}/forwarding")  # type: ignore[attr-defined]
    await page.click("text=Make a family link")  # type: ignore[attr-defined]
    body = await page.content()  # type: ignore[attr-defined]
    found = re.search(r"/start (family_[A-Za-z0-9_-]+)", body)
    assert found, body[:3000]
    return found.group(1)


async def forward_as_promising(
    page: object, url: str, tip_ref: str, case_ref: str, summary: str
) -> None:
    """As the moderator: open the tip, link it to the case (unless it is already: a second
    try after a failure), decide promising with a summary."""
    await page.goto(f"{url}/tips/{tip_ref}")  # type: ignore[attr-defined]
    linked = f"#case a[href='/cases/{case_ref}']"
    if not await page.locator(linked).count():  # type: ignore[attr-defined]
        await page.fill("#case_ref", case_ref)  # type: ignore[attr-defined]
        await page.click("#link-case button[value=tip]")  # type: ignore[attr-defined]
        await page.wait_for_selector(linked)  # type: ignore[attr-defined]
    await page.goto(f"{url}/tips/{tip_ref}/forward")  # type: ignore[attr-defined]
    await page.fill("#summary", summary)  # type: ignore[attr-defined]
    await page.fill("#coarse_place", "Xi'an")  # type: ignore[attr-defined]
    await page.click("button.outcome[value=promising]")  # type: ignore[attr-defined]
    await page.wait_for_load_state()  # type: ignore[attr-defined]
