"""R5's corpus as tipsters send it to a chat door (the Telegram bot, WhatsApp), and the judging of
what became of each file."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from tests.core.photos import photo_corpus as corpus
from tests.reliability.harness import report, tier

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
WAYS = ("photo", "document", "renamed")
# What the chat doors answer to a file they do not take, and their later word on a file taken
# that could not be used (on Telegram and WhatsApp alike).
AT_THE_DOOR = ("I can't use this", "larger than 20 MB", "I can't read this")
REFUSED = "We could not use one of the files you sent with tip"
FINE = frozenset({"refused at the door", "processed"})  # or rejected:<reason>


@dataclass(frozen=True)
class Sending:
    """One corpus file as a tipster sends it, in a chat of its own."""

    chat: int
    name: str
    way: str  # photo, document (under its own name and type), or renamed (a document named .jpg)
    data: bytes

    @property
    def file_name(self) -> str:
        """The name the file goes under."""
        return f"IMG_{self.chat}.jpg" if self.way == "renamed" else self.name

    @property
    def mime_type(self) -> str:
        """The type a phone gives the file by its name."""
        return mimetypes.guess_type(self.file_name)[0] or "application/octet-stream"

    @property
    def text(self) -> str:
        """What the tipster types: the tip text that must be kept whatever becomes of the file."""
        return f"Girl in a red coat by the station; sent {self.name} as {self.way} ({self.chat})"


def delivered_as_photo(data: bytes) -> bool:
    """Whether Telegram (or WhatsApp) would deliver these bytes as a photo: a JPEG, PNG or WEBP
    whose width and height add up to at most 10,000, sides at most 20:1 (Telegram's photo
    limits); anything else can only go as a file."""
    try:
        # Pillow warns of broken EXIF as it opens some of them: only the header matters here.
        with warnings.catch_warnings(action="ignore"), Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return False
    sides_ok = width + height <= 10_000 and max(width, height) <= 20 * max(1, min(width, height))
    return kind in {"JPEG", "PNG", "WEBP"} and sides_ok


def sendings(first_chat: int) -> list[Sending]:
    """Each file (ROUNDS times) as a document, renamed to .jpg unless it is one, and as a photo
    where it would be delivered as one; each in its own chat from first_chat on."""
    ways: list[tuple[str, str, bytes]] = []
    for _ in range(ROUNDS):
        for name, make in FILES.items():
            data = make()
            ways.append((name, "document", data))
            if not name.endswith(".jpg"):
                ways.append((name, "renamed", data))
            if delivered_as_photo(data):
                ways.append((name, "photo", data))
    return [Sending(first_chat + n, *way) for n, way in enumerate(ways)]


def outcome(sending: Sending, answer: str, row: Any, told: bool) -> str:
    """What became of one file: "refused at the door", "processed" or "rejected:<reason>"; any
    other answer names what went wrong (a file lost without a word, the tip text not kept...).

    `answer` is the door's reply to the file, `row` the tip's (ref, text, file status, reason,
    display sha256), `told` whether the tipster got the word that the file could not be used."""
    _, text, status, reason, display = row
    if text != sending.text:
        return "tip text not kept"
    if status is None:
        at_the_door = any(words in answer for words in AT_THE_DOOR)
        return "refused at the door" if at_the_door else f"not taken, and the bot said {answer!r}"
    if status == "processed":
        ours = display is not None and display != hashlib.sha256(sending.data).hexdigest()
        return "processed" if ours else "shown as sent, not our re-encode"
    if status == "rejected" and reason and told:
        return f"rejected:{reason}"
    return f"{status} ({reason}), tipster told: {told}"


def judge(
    door: str,
    sent: list[Sending],
    outcomes: list[str],
    inbox: list[Any],
    *,
    alive: bool,
    **figures: Any,
) -> None:
    """Print a door's figures, then assert R5's pass: the process alive, every update handled
    (`inbox` rows: status and error; done or parked dead with a reason), every file refused at
    the door, processed into our re-encode, or rejected with the tipster told."""
    tally: dict[str, int] = {}
    for sending, found in zip(sent, outcomes, strict=True):
        tally[f"{sending.way} {found}"] = tally.get(f"{sending.way} {found}", 0) + 1
    statuses = {s: sum(row[0] == s for row in inbox) for s in {row[0] for row in inbox}}
    report(
        f"R5 hostile images, {door}",
        files=len(sent),
        sent_as={way: sum(s.way == way for s in sent) for way in WAYS},
        **figures,
        inbox=statuses,
        crashed=0 if alive else 1,
        outcomes=tally,
    )
    assert alive
    assert inbox and "pending" not in statuses
    assert all(error or status != "dead" for status, error in inbox)
    wrong = {
        f"{s.name} as {s.way}": found
        for s, found in zip(sent, outcomes, strict=True)
        if found not in FINE and not found.startswith("rejected:")
    }
    assert not wrong
