"""R7: the media disk full. Pass: photos parked with a reason, tips kept, and they recover when
space returns; a web form refused with 503 keeps what was typed.

The media folder is a real 8 MiB tmpfs, filled up with a file (mounting needs root, as CI has).
Short tier: 2 tipsters with a photo each through the bot. Full: 6.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import IN_CI
from tests.processes import wait_until
from tests.reliability.harness import deployment, jpeg, report, tier, until, web_report

pytestmark = pytest.mark.reliability

TIPSTERS = int(tier(2, 6))
FIRST_CHAT = 77_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "media"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = f"cannot mount a small tmpfs for R7: {done.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write until the disk refuses, in big then page-sized pieces: not one page is left."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        for piece in (b"\0" * 65536, b"\0" * 4096):
            try:
                while True:
                    handle.write(piece)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def _tip_with_photo(fake, chat: int) -> None:
    def wait_text(needle: str) -> None:
        wait_until(
            lambda: any(needle in t for t in fake.sent_texts(chat)), what=repr(needle), timeout=120
        )

    fake.build("command", chat_id=chat, command="start")
    wait_text("missing child")
    fake.press(chat, "Report a sighting")
    wait_text("What did you see?")
    fake.build("text_message", chat_id=chat, text=f"Girl in a blue coat, tipster {chat}")
    wait_text("When did you see this?")
    fake.press(chat, "Now")
    wait_text("Where did you see this?")
    fake.press(chat, "Skip")
    wait_text("photos or videos")
    photo = base64.b64encode(jpeg(chat)).decode()
    fake.build("photo_message", chat_id=chat, photo_bytes_b64=photo)
    wait_text("of 10 files so far")
    fake.press(chat, "Done")
    wait_text("May we contact you")
    fake.press(chat, "No, keep")
    wait_text("Please check your report")
    fake.press(chat, "Send report")
    wait_text("Reference:")


def test_r7_a_full_media_disk_parks_photos_and_they_recover(tmp_path: Path, small_disk: Path):
    with deployment(tmp_path, backend="sqlite", TIPLINE_MEDIA_DIR=str(small_disk)) as app:
        filler = _fill(small_disk)

        async def web() -> tuple[int, str]:
            async with httpx.AsyncClient(base_url=app.url, timeout=60) as browser:
                page = await browser.get("/report")
                assert page.status_code == 200
                status, _ = await web_report(
                    browser, "typed while the disk was full", photo=jpeg(1)
                )
                return status, ""

        web_status, _ = asyncio.run(web())
        for n in range(TIPSTERS):
            _tip_with_photo(app.fake, FIRST_CHAT + n)

        async def parked() -> list:
            rows = await app.sql(
                "SELECT id FROM tip_photos"
                " WHERE status = 'quarantined' AND reject_reason LIKE 'storage:%'"
            )
            return rows if len(rows) == TIPSTERS else []

        parked_rows = asyncio.run(until(parked, timeout=180))
        reasons = asyncio.run(app.sql("SELECT DISTINCT reject_reason FROM tip_photos"))
        tips = asyncio.run(app.sql("SELECT count(*) FROM tips"))[0][0]
        filler.unlink()

        async def recovered() -> bool:
            rows = await app.sql("SELECT count(*) FROM tip_photos WHERE status = 'processed'")
            return rows[0][0] == TIPSTERS

        ok = asyncio.run(until(recovered, timeout=180))
        final = asyncio.run(app.sql("SELECT status, reject_reason FROM tip_photos"))
        alive = app.run.proc.poll() is None
    report(
        "R7 media disk full",
        disk_mib=8,
        web_form_status_while_full=web_status,
        bot_tips_kept=f"{tips}/{TIPSTERS}",
        photos_parked=len(parked_rows),
        reasons=[r[0] for r in reasons],
        recovered=f"{sum(1 for r in final if r[0] == 'processed')}/{TIPSTERS}",
        process_alive=alive,
    )
    assert web_status == 503
    assert tips == TIPSTERS
    assert len(parked_rows) == TIPSTERS
    assert ok and all(r[1] is None for r in final)
    assert alive
