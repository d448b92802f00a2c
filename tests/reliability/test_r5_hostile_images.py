"""R5: the hostile image corpus (tests/core/photos/photo_corpus.py) through every front door of
one running `tipline run`: the web form, the Telegram webhook and the WhatsApp webhook, the chat
doors inside a real report conversation.

On Telegram and WhatsApp each file goes, in a tipster's chat of its own, as a document under its
own name and type (any file may be sent so), as a document renamed to a .jpg (unless it is one),
and as a photo where it would be delivered as one (tests/reliability/hostile.py). The fakes serve
the bytes unchanged (the Bot API over getFile and the download URL, the Graph API over the media
URL); real Telegram and WhatsApp re-encode photos, so a photo here is the harder case.

Pass: 0 crashes (the process alive; every update answered 200, then done or parked with a
reason); every file refused at the door with a clear message to the tipster, or taken and then
sanitised (processed: our re-encode, not the bytes sent) or rejected with a reason that the
tipster is told; none left in quarantine; every tipster's tip text kept.

Short tier: each file once. Full: each file three times (and the friendly ones among them).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.bot.fixtures import sent_ref
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import FakeWhatsApp, Send
from tests.multiprocess import Driver
from tests.processes import free_port
from tests.reliability.harness import (
    OPEN_LIMITS,
    Deployment,
    deployment,
    report,
    until,
    web_report,
)
from tests.reliability.hostile import FILES, REFUSED, ROUNDS, Sending, judge, outcome, sendings
from tests.whatsapp.chats import line, tap
from tests.whatsapp.world import whatsapp_settings

pytestmark = pytest.mark.reliability

TELEGRAM_CHATS = 55_000
WHATSAPP_PHONES = 447_700_900_000
AT_ONCE = 16
SAVED = "of 10 files so far"


@pytest.fixture(scope="module")
def whatsapp() -> FakeWhatsApp:
    """The fake Graph API on a port chosen now: `tipline run` starts before the fake serves."""
    return FakeWhatsApp(port=free_port())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, whatsapp: FakeWhatsApp) -> Iterator[Deployment]:
    env = {**OPEN_LIMITS, **whatsapp_settings(whatsapp)}
    with deployment(tmp_path_factory.mktemp("r5"), backend="sqlite", **env) as running:
        yield running


async def _settled(app: Deployment, channel: str) -> list[Any]:
    """The channel's tips (ref, text) with their file's status, reason and display copy, once
    none is left in quarantine."""
    query = (
        "SELECT t.ref, t.text, p.status, p.reject_reason, p.display_sha256"
        " FROM tips t LEFT JOIN tip_photos p ON p.tip_id = t.id WHERE t.channel = $1"
    )

    async def none_quarantined() -> bool:
        return all(row[2] != "quarantined" for row in await app.sql(query, channel))

    await until(none_quarantined, timeout=300)
    return await app.sql(query, channel)


async def _handled(app: Deployment, table: str) -> list[Any]:
    """(status, last_error) of every row of an inbox once none is pending."""

    async def drained() -> list[Any]:
        rows = await app.sql(f"SELECT status, last_error FROM {table}")
        return rows if all(status != "pending" for status, _ in rows) else []

    return await until(drained, timeout=120)


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


async def _file_update(driver: Driver, sending: Sending) -> dict[str, Any]:
    data = base64.b64encode(sending.data).decode()
    if sending.way == "photo":
        return await driver.build("photo_message", chat_id=sending.chat, photo_bytes_b64=data)
    return await driver.build(
        "document_message",
        chat_id=sending.chat,
        data_b64=data,
        file_name=sending.file_name,
        mime_type=sending.mime_type,
    )


async def _on_telegram(driver: Driver, sending: Sending) -> str:
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


async def _through_the_bot(app: Deployment, sent: list[Sending]) -> tuple[Driver, list[str]]:
    """Every sending's conversation, AT_ONCE at a time; once the files have settled and every
    tipster whose file was rejected has been told, what became of each."""
    driver = Driver(app.fake.base_url, [app.url + "/telegram/webhook"])
    tail = asyncio.create_task(driver.tail())
    slots = asyncio.Semaphore(AT_ONCE)

    async def one(sending: Sending) -> str:
        async with slots:
            return await _on_telegram(driver, sending)

    try:
        answers = await asyncio.gather(*(one(s) for s in sent))
        texts = driver.chats.texts
        return driver, await _judged(app, "telegram", sent, answers, lambda s: texts[s.chat])
    finally:
        tail.cancel()
        await driver.close()


async def _judged(
    app: Deployment,
    channel: str,
    sent: list[Sending],
    answers: list[str],
    said: Callable[[Sending], list[str]],
) -> list[str]:
    """What became of each file once settled, waiting (a while) for the word on each file
    rejected; `said(sending)` is every text the tipster got."""
    by_ref = {row[0]: row for row in await _settled(app, channel)}
    rows = [by_ref[next(sent_ref(t) for t in said(s) if "Reference:" in t)] for s in sent]

    def told(sending: Sending, ref: str) -> bool:
        return any(REFUSED in t and ref in t for t in said(sending))

    async def all_told() -> bool:
        pairs = zip(sent, rows, strict=True)
        return all(told(s, row[0]) for s, row in pairs if row[2] == "rejected")

    await until(all_told, timeout=120)
    return [
        outcome(s, answer, row, told(s, row[0]))
        for s, answer, row in zip(sent, answers, rows, strict=True)
    ]


def test_r5_hostile_images_through_the_bot_are_refused_or_sanitised(app: Deployment):
    sent = sendings(TELEGRAM_CHATS)
    driver, outcomes = asyncio.run(_through_the_bot(app, sent))
    inbox = asyncio.run(_handled(app, "inbox_updates"))
    judge(
        "Telegram bot",
        sent,
        outcomes,
        inbox,
        alive=app.run.proc.poll() is None,
        updates_answered_200=driver.delivered,
        redeliveries=driver.redeliveries,
        files_fetched=app.fake.control("stats")["by_method"].get("getFile", 0),
    )
    assert driver.redeliveries == 0, "every update is answered 200 the first time"
    assert len(inbox) == driver.delivered


class WhatsAppTipster:
    """One person on WhatsApp: sends through the fake's signed webhooks, reads its replies."""

    def __init__(self, fake: FakeWhatsApp, url: str, sending: Sending) -> None:
        self.fake, self.url, self.sending = fake, url, sending
        self.phone = str(WHATSAPP_PHONES + sending.chat)
        self.statuses: list[int] = []

    def replies(self) -> list[Send]:
        """The replies this person got, in order."""
        return [send for send in self.fake.sends if send.to == self.phone]

    async def says(self, kind: str, body: Any, needle: str = "") -> Send:
        """Send a message; the first reply after it that says `needle`."""
        since = len(self.replies())
        payload = wa.message(self.fake.phone_number_id, self.phone, kind, body)
        self.statuses.append(await self.fake.deliver(self.url, payload))

        async def heard() -> Send | None:
            return next((r for r in self.replies()[since:] if needle in line(r)), None)

        found = await until(heard, timeout=180)
        assert found is not None, f"{self.phone}: no {needle!r} in {self.replies()[since:]}"
        return found

    async def taps(self, label: str, needle: str) -> Send:
        """Tap the choice starting with `label` on the latest reply that offers choices."""
        offer = next(r for r in reversed(self.replies()) if r.type == "interactive")
        return await self.says(*tap(offer, label), needle)

    async def reports(self) -> str:
        """A whole report with the file on the photo step; the tip line's answer to the file."""
        sending = self.sending
        await self.says(*wa.text(sending.text), "When did you see this?")
        await self.taps("Now", "Where did you see this?")
        await self.says(*wa.location(34.2612, 108.9423, "Lianhu Road"), "photos or videos")
        media_id = self.fake.add_media(sending.data, sending.mime_type)
        if sending.way == "photo":
            sent = wa.image(media_id, mime=sending.mime_type)
        else:
            sent = wa.document(media_id, sending.file_name, sending.mime_type)
        answer = line(await self.says(*sent))
        await self.taps("Done" if SAVED in answer else "Skip", "May we contact you")
        await self.taps("No, keep me anonymous", "Please check your report")
        await self.taps("Send report", "Reference:")
        return answer


async def _through_whatsapp(
    app: Deployment, fake: FakeWhatsApp, sent: list[Sending]
) -> tuple[list[WhatsAppTipster], list[str]]:
    """Every sending's conversation at once (Meta's pace, a reply every 6 s or so to one person,
    is the slow part); what became of each file once settled and told."""
    people = [WhatsAppTipster(fake, app.url + "/whatsapp/webhook", s) for s in sent]
    async with fake:
        answers = await asyncio.gather(*(person.reports() for person in people))
        by_chat = {person.sending.chat: person for person in people}

        def said(sending: Sending) -> list[str]:
            return [line(reply) for reply in by_chat[sending.chat].replies()]

        return people, await _judged(app, "whatsapp", sent, answers, said)


def test_r5_hostile_images_on_whatsapp_are_refused_or_sanitised(
    app: Deployment, whatsapp: FakeWhatsApp
):
    sent = sendings(TELEGRAM_CHATS)
    people, outcomes = asyncio.run(_through_whatsapp(app, whatsapp, sent))
    inbox = asyncio.run(_handled(app, "whatsapp_inbox"))
    answers = [status for person in people for status in person.statuses]
    judge(
        "WhatsApp",
        sent,
        outcomes,
        inbox,
        alive=app.run.proc.poll() is None,
        messages=len(answers),
        answered_200=answers.count(200),
        media_fetches=whatsapp.state.media_fetches,
    )
    assert answers.count(200) == len(answers) == len(inbox)
