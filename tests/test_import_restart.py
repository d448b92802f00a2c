"""SIGKILL `tipline run` in the middle of a dashboard import: after a restart the import goes on
from the rows already committed, and every person is imported exactly once.

A real process on SQLite; the admin enrols from the first-admin link and signs in through the
dashboard's own pages; the database is only read.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest

from tests.browser.people import PASSWORD, first_admin_link
from tests.processes import TiplineProcess, tipline_env, wait_until

pytestmark = pytest.mark.slow

PEOPLE = 2_000
EMAIL = "admin@example.org"


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name} in {page[:300]}"
    return found.group(1)


def _signed_in(url: str, log: Path) -> httpx.Client:
    """Enrol the first admin from the link `tipline run` printed, then sign in with a code."""
    client = httpx.Client(base_url=url, timeout=30)
    path = urlsplit(first_admin_link(log)).path
    form = client.get(path).text
    totp = pyotp.TOTP(form.split('class="secret">')[1].split("<")[0])
    fields = {"email": EMAIL, "password": PASSWORD, "code": totp.now()}
    fields |= {"totp": _hidden(form, "totp"), "csrf": _hidden(form, "csrf")}
    assert "Recovery codes" in client.post(path, data=fields).text
    login = client.get("/login").text
    sign_in = {"email": EMAIL, "password": PASSWORD, "csrf": _hidden(login, "csrf")}
    client.post("/login", data=sign_in)
    code_page = client.get("/login/code").text
    code = totp.at(time.time() + totp.interval)  # the enrolment's code is spent
    done = client.post("/login/code", data={"code": code, "csrf": _hidden(code_page, "csrf")})
    assert done.status_code == 303 and not done.headers["location"].startswith("/login")
    return client


def _people() -> bytes:
    rows = [f"S-{i:05d},Person {i:05d},female,{5 + i % 30}" for i in range(PEOPLE)]
    return ("source_id,full_name,sex,age_years\n" + "\n".join(rows) + "\n").encode()


def _job(db: Path) -> tuple[str, int, int, int]:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT status, processed, added, updated FROM people_imports")
        found = row.fetchone()
    return (str(found[0]), int(found[1]), int(found[2]), int(found[3])) if found else ("", 0, 0, 0)


def _cases(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT count(*), count(DISTINCT source_id) FROM cases")
        total, distinct = row.fetchone()
    return int(total), int(distinct)


def test_an_import_killed_with_its_process_resumes_after_a_restart_without_duplicates(
    tmp_path: Path,
):
    db = tmp_path / "tipline.db"
    env = tipline_env(tmp_path, TIPLINE_FACES="false")
    first = TiplineProcess(env)
    try:
        client = _signed_in(first.url, first.log)
        form = client.get("/imports").text
        started = client.post(
            "/imports",
            data={"source": "Chengdu shelter", "csrf": _hidden(form, "csrf")},
            files=[("file", ("shelter.csv", _people(), "text/csv"))],
        )
        assert started.status_code == 303
        wait_until(lambda: _job(db)[1] >= 200, timeout=120, interval=0.02, what="200 rows")
    finally:
        first.kill()
    status, processed, added, _ = _job(db)
    assert status == "running" and 200 <= processed < PEOPLE  # killed in the middle
    assert _cases(db) == (added, added)

    second = TiplineProcess(env)
    try:
        page = wait_until(
            lambda: "done:" in (text := client.get(started.headers["location"]).text) and text,
            timeout=300,
            interval=0.5,
            what="the import to finish",
        )
    finally:
        second.stop()
    assert f"done: {PEOPLE} of {PEOPLE} rows · {PEOPLE} added · 0 updated · 0 refused" in page
    assert _cases(db) == (PEOPLE, PEOPLE)  # each person once: nothing re-imported
    assert f"resuming import 1 after row {processed}" in second.log.read_text()
