"""R5: the hostile image corpus (tests/core/photos/photo_corpus.py) through the front doors of one
running `tipline run`: the web form, and the Telegram webhook inside a real report conversation.

Through the bot each file goes, in a tipster's chat of its own, as a document under its own name
and type (any file may be sent so), as a document renamed to a .jpg (a file that is not one), and
as a photo where Telegram would deliver it as one (a JPEG, PNG or WEBP within Telegram's photo
limits). The fake Bot API serves the bytes unchanged over getFile and the download URL; real
Telegram re-encodes photos, so a photo here is the harder case.

Pass: 0 crashes (the process alive; every update answered 200, then done or parked with a
reason); every file refused at the door with a clear message to the tipster, or taken and then
sanitised (processed: our re-encode, not the bytes sent) or rejected with a reason that the
tipster is told; none left in quarantine; every tipster's tip text kept.

Short tier: each file once. Full: each file three times (and the friendly ones among them).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import mimetypes
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image, UnidentifiedImageError

from tests.bot.fixtures import sent_ref
from tests.core.photos import photo_corpus as corpus
from tests.multiprocess import Driver
from tests.reliability.harness import (
    OPEN_LIMITS,
    Deployment,
    deployment,
    report,
    tier,
    until,
    web_report,
)

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
FIRST_CHAT = 55_000
AT_ONCE = 8
# The bot's answers to a file on the photo step, and its later word on a file it could not use.
SAVED = "of 10 files so far"
AT_THE_DOOR = ("I can't use this", "larger than 20 MB")
REFUSED = "We could not use one of the files you sent with tip"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory.mktemp("r5"), backend="sqlite", **OPEN_LIMITS) as running:
        yield running


def _photos_of(channel: str) -> str:
    return (
        "SELECT t.ref, t.text, p.status, p.reject_reason, p.display_sha256"
        " FROM tips t LEFT JOIN tip_photos p ON p.tip_id = t.id"
        f" WHERE t.channel = '{channel}'"
    )


async def _settled(app: Deployment, channel: str) -> list:
    """The channel's tips and their files once none is left in quarantine."""

    async def none_quarantined() -> bool:
        rows = await app.sql(_photos_of(channel))
        return all(row[2] != "quarantined" for row in rows)

    await until(none_quarantined, timeout=300)
    return await app.sql(_photos_of(channel))


async def _send_all(url: str) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for round_ in range(ROUNDS):
        for name, make in FILES.items():
            async with httpx.AsyncClient(base_url=url, timeout=120) as browser:
                status, _ = await web_report(browser, f"{name} round {round_}", photo=make())
            outcomes[f"{name}:{status}"] = outcomes.get(f"{name}:{status}", 0) + 1
    return outcomes


def test_r5_hostile_images_through_the_web_form_are_refused_or_sanitised(app: Deployment):
    outcomes = asyncio.run(_send_all(app.url))
    photos = [row[2:] for row in asyncio.run(_settled(app, "web")) if row[2] is not None]
    alive = app.run.proc.poll() is None
    statuses: dict[str, int] = {}
    for status, reason, _ in photos:
        key = f"{status}:{reason or '-'}"
        statuses[key] = statuses.get(key, 0) + 1
    refused_at_door = sum(n for k, n in outcomes.items() if not k.endswith(":200"))
    report(
        "R5 hostile images, web form",
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


@dataclass(frozen=True)
class Sending:
    """One corpus file as a tipster sends it to the bot, in a chat of its own."""

    chat: int
    name: str
    way: str  # photo, document (its own name and type), or renamed (a document named .jpg)
    data: bytes

    @property
    def text(self) -> str:
        """What the tipster types: the tip text that must be kept whatever becomes of the file."""
        return f"Girl in a red coat by the station; sent {self.name} as {self.way} ({self.chat})"


def _telegram_photo(data: bytes) -> bool:
    """Whether Telegram would deliver these bytes as a photo: a JPEG, PNG or WEBP whose width and
    height add up to at most 10,000 with sides at most 20:1 (anything else goes as a file)."""
    try:
        # Pillow warns of broken EXIF as it opens some of them: only the header matters here.
        with warnings.catch_warnings(action="ignore"), Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return False
    sides_ok = width + height <= 10_000 and max(width, height) <= 20 * max(1, min(width, height))
    return kind in {"JPEG", "PNG", "WEBP"} and sides_ok


def _sendings() -> list[Sending]:
    ways: list[tuple[str, str, bytes]] = []
    for _ in range(ROUNDS):
        for name, make in FILES.items():
            data = make()
            ways.append((name, "document", data))
            if not name.endswith(".jpg"):
                ways.append((name, "renamed", data))
            if _telegram_photo(data):
                ways.append((name, "photo", data))
    return [Sending(FIRST_CHAT + n, *way) for n, way in enumerate(ways)]


async def _file_update(driver: Driver, sending: Sending) -> dict:
    data = base64.b64encode(sending.data).decode()
    if sending.way == "photo":
        return await driver.build("photo_message", chat_id=sending.chat, photo_bytes_b64=data)
    name = f"IMG_{sending.chat}.jpg" if sending.way == "renamed" else sending.name
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return await driver.build(
        "document_message", chat_id=sending.chat, data_b64=data, file_name=name, mime_type=mime
    )


async def _converse(driver: Driver, sending: Sending) -> str:
    """A whole report with the file on the photo step; the bot's answer to the file."""
    chat = sending.chat
    typed = await driver.build("text_message", chat_id=chat, text=sending.text)
    await driver.step(chat, typed, "When did you see this?")
    await driver.press(chat, "Now", "Where did you see this?")
    await driver.press(chat, "Skip", "photos or videos")
    since = len(driver.chats.texts[chat])
    await driver.step(chat, await _file_update(driver, sending), "")
    answer = driver.chats.texts[chat][since]
    await driver.press(chat, "Done" if SAVED in answer else "Skip", "May we contact you")
    await driver.press(chat, "No, keep me anonymous", "Please check your report")
    await driver.press(chat, "Send report", "Reference:")
    return answer


async def _through_the_bot(app: Deployment, sendings: list[Sending]) -> tuple[Driver, list[str]]:
    """Every sending's conversation, AT_ONCE at a time; once the files have settled, what became
    of each (see _outcome)."""
    driver = Driver(app.fake.base_url, [app.url + "/telegram/webhook"])
    tail = asyncio.create_task(driver.tail())
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(sending: Sending) -> str:
        async with slots:
            return await _converse(driver, sending)

    def refused_later(sending: Sending, ref: str) -> bool:
        return any(REFUSED in t and ref in t for t in driver.chats.texts[sending.chat])

    try:
        answers = await asyncio.gather(*(one(s) for s in sendings))
        by_ref = {row[0]: row for row in await _settled(app, "telegram")}
        rows = [by_ref[_ref_in(driver.chats.texts[s.chat])] for s in sendings]

        async def all_told() -> bool:
            return all(
                refused_later(s, row[0])
                for s, row in zip(sendings, rows, strict=True)
                if row[2] == "rejected"
            )

        await until(all_told, timeout=120)
        outcomes = [
            _outcome(s, answer, row, refused_later(s, row[0]))
            for s, answer, row in zip(sendings, answers, rows, strict=True)
        ]
    finally:
        tail.cancel()
        await driver.close()
    return driver, outcomes


def _ref_in(texts: list[str]) -> str:
    return next(sent_ref(text) for text in texts if "Reference:" in text)


def _outcome(sending: Sending, answer: str, row: tuple, told: bool) -> str:
    """What became of one file: "refused at the door", "processed" or "rejected:<reason>"; any
    other answer names what went wrong (a file lost without a word, the tip text not kept...)."""
    _, text, status, reason, display = row
    if text != sending.text:
        return "tip text not kept"
    if status is None:
        at_the_door = any(words in answer for words in AT_THE_DOOR)
        return "refused at the door" if at_the_door else f"not taken, and the bot said {answer!r}"
    if status == "processed":
        ours = display is not None and display != hashlib.sha256(sending.data).hexdigest()
        return "processed" if ours else "processed, but shown as sent"
    if status == "rejected" and reason and told:
        return f"rejected:{reason}"
    return f"{status}:{reason}, tipster told: {told}"


def test_r5_hostile_images_through_the_bot_are_refused_or_sanitised(app: Deployment):
    sendings = _sendings()
    driver, outcomes = asyncio.run(_through_the_bot(app, sendings))

    async def handled() -> list:
        rows = await app.sql("SELECT status, last_error FROM inbox_updates")
        return rows if all(status != "pending" for status, _ in rows) else []

    inbox = asyncio.run(until(handled, timeout=120))
    alive = app.run.proc.poll() is None
    tally: dict[str, int] = {}
    for sending, outcome in zip(sendings, outcomes, strict=True):
        key = f"{sending.way} {outcome}"
        tally[key] = tally.get(key, 0) + 1
    ways = {way: sum(s.way == way for s in sendings) for way in ("photo", "document", "renamed")}
    report(
        "R5 hostile images, bot",
        files=len(sendings),
        sent_as=ways,
        updates_acked=driver.delivered,
        redeliveries=driver.redeliveries,
        inbox={s: sum(row[0] == s for row in inbox) for s in {row[0] for row in inbox}},
        crashed=0 if alive else 1,
        outcomes=tally,
    )
    assert alive
    assert inbox and len(inbox) == driver.delivered
    assert all(status == "done" or (status == "dead" and error) for status, error in inbox)
    fine = {"refused at the door", "processed"}
    wrong = {
        f"{s.name} as {s.way}": outcome
        for s, outcome in zip(sendings, outcomes, strict=True)
        if outcome not in fine and not outcome.startswith("rejected:")
    }
    assert not wrong
