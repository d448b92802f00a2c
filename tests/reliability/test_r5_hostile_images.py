"""R5: the hostile image corpus (tests/core/photos/photo_corpus.py) through the web form of a
running `tipline run`. Pass: 0 crashes; every file refused at the door or, once taken, sanitised
(processed: our re-encode) or rejected with a reason; none left in quarantine.

Short tier: each file once. Full: each file three times (and the friendly ones among them).
The bot's door is covered by tests/bot/test_report_media.py; this run covers the web form.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.core.photos import photo_corpus as corpus
from tests.reliability.harness import OPEN_LIMITS, deployment, report, tier, until, web_report

pytestmark = pytest.mark.reliability

ROUNDS = int(tier(1, 3))
FILES = {
    "everything.jpg": corpus.jpeg_with_everything,
    "plain.jpg": corpus.plain_jpeg,
    "text.png": corpus.png_with_text,
    "exif.webp": corpus.webp_with_exif,
    "bomb.png": corpus.png_bomb,
    "bomb.gif": corpus.gif_bomb,
    "huge-app.jpg": corpus.jpeg_with_huge_app_segments,
    "polyglot.jpg": corpus.jpeg_html_polyglot,
    "claims-huge.jpg": lambda: corpus.jpeg_claiming_size(65_000, 65_000),
    "truncated.jpg": corpus.truncated_jpeg,
    "image.psd": corpus.psd_bytes,
    "doc.pdf": corpus.pdf_bytes,
    "vector.svg": corpus.svg_bytes,
    "archive.zip": corpus.zip_bytes,
    "page.html": corpus.html_bytes,
}


async def _send_all(url: str) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for round_ in range(ROUNDS):
        for name, make in FILES.items():
            async with httpx.AsyncClient(base_url=url, timeout=120) as browser:
                status, _ = await web_report(browser, f"{name} round {round_}", photo=make())
            outcomes[f"{name}:{status}"] = outcomes.get(f"{name}:{status}", 0) + 1
    return outcomes


def test_r5_hostile_images_are_refused_or_sanitised(tmp_path: Path):
    with deployment(tmp_path, backend="sqlite", **OPEN_LIMITS) as app:
        outcomes = asyncio.run(_send_all(app.url))

        async def settled() -> bool:
            rows = await app.sql("SELECT count(*) FROM tip_photos WHERE status = 'quarantined'")
            return rows[0][0] == 0

        asyncio.run(until(settled, timeout=300))
        photos = asyncio.run(
            app.sql("SELECT status, reject_reason, display_sha256 FROM tip_photos")
        )
        alive = app.run.proc.poll() is None
    statuses: dict[str, int] = {}
    for status, reason, _ in photos:
        key = f"{status}:{reason or '-'}"
        statuses[key] = statuses.get(key, 0) + 1
    refused_at_door = sum(n for k, n in outcomes.items() if not k.endswith(":200"))
    report(
        "R5 hostile images",
        files=len(FILES) * ROUNDS,
        refused_at_the_form=refused_at_door,
        taken=len(photos),
        crashed=0 if alive else 1,
        photo_outcomes=statuses,
    )
    assert alive
    assert refused_at_door + len(photos) == len(FILES) * ROUNDS
    for status, reason, display in photos:
        assert status in {"processed", "rejected"}, (status, reason)
        assert status != "processed" or display, "a processed photo has our re-encode"
        assert status != "rejected" or reason, "a rejected photo has a reason"
