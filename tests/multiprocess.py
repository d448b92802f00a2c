"""Drive many tipster conversations through several `tipline run` processes (test and bench).

Plays Telegram: builds each update with the fake Bot API (so photo files exist there), delivers
it to one of the web processes' webhooks in turn, and on a refused or lost delivery tries the
next one, as Telegram redelivers. A tailer follows the fake's call log to learn each chat's texts
and latest keyboard.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

SECRET = "s" * 40
TEXT_STEPS = 8
PHOTO_STEPS = 9
SEND_METHODS = ("send", "copyMessage", "forwardMessage")
STALE = "That button belongs to an earlier message"


def noisy_jpeg(seed: int) -> bytes:
    """A small JPEG unlike any other seed's."""
    rng = random.Random(seed)
    image = Image.new("RGB", (64, 48))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))] * (64 * 48))
    for x in range(0, 64, 4):
        for y in range(0, 48, 4):
            image.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@dataclass
class Chats:
    """What the bot said in each chat, from the fake's call log."""

    texts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    keyboards: dict[int, tuple[int, list[tuple[str, str]]]] = field(default_factory=dict)
    send_times: list[float] = field(default_factory=list)
    next: int = 0

    def record(self, call: dict[str, Any]) -> None:
        """Note one call's text, keyboard and (for a message sent) its time."""
        params, result = call["params"], call.get("result")
        if not result or "chat_id" not in params:
            return
        chat = int(params["chat_id"])
        if call["method"].startswith(SEND_METHODS):
            self.send_times.append(call["time"])
        if isinstance(params.get("text"), str):
            self.texts[chat].append(params["text"])
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and "inline_keyboard" in markup and isinstance(result, dict):
            buttons = [
                (b["text"], b.get("callback_data", ""))
                for r in markup["inline_keyboard"]
                for b in r
            ]
            self.keyboards[chat] = (int(result["message_id"]), buttons)


class Driver:
    """Delivers updates to web processes and waits for the bot's answers."""

    def __init__(self, fake_url: str, webhooks: list[str]) -> None:
        # One client each (a new client per request costs an SSL context: the driver's CPU).
        self.fake = httpx.AsyncClient(base_url=fake_url, timeout=60)
        self.http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))
        self.webhooks = list(webhooks)
        self.alive = list(webhooks)
        self.chats = Chats()
        self.delivered = 0
        self.redeliveries = 0
        self._turn = 0

    async def tail(self) -> None:
        """Follow the fake's call log until cancelled."""
        while True:
            answer = (await self.fake.get(f"/_control/calls?since={self.chats.next}")).json()
            for call in answer["calls"]:
                self.chats.record(call)
            self.chats.next = answer["next"]
            await asyncio.sleep(0.1)

    async def build(self, builder: str, **kwargs: Any) -> dict[str, Any]:
        """An update built (not delivered) by the fake."""
        answer = await self.fake.post(f"/_control/build/{builder}", json={**kwargs, "push": False})
        answer.raise_for_status()
        return answer.json()["updates"][0]  # type: ignore[no-any-return]

    async def deliver(self, update: dict[str, Any]) -> None:
        """POST to the next live web process; another one after a failure (Telegram retries)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for attempt in range(200):
            self._turn += 1
            url = self.alive[self._turn % len(self.alive)]
            try:
                answer = await self.http.post(url, json=update, headers=headers)
                if answer.status_code == 200:
                    self.delivered += 1
                    return
            except httpx.TransportError:
                pass
            self.redeliveries += 1
            await asyncio.sleep(min(2.0, 0.1 * (attempt + 1)))
        raise AssertionError(f"update {update['update_id']} never admitted")

    def forget(self, webhook: str) -> None:
        """A web process is gone: stop choosing it first (failures would find that out too)."""
        self.alive = [url for url in self.alive if url != webhook] or self.alive

    async def expect(
        self, chat: int, needle: str, since: int, within: float = 300, stale: str | None = None
    ) -> None:
        """Wait until the bot says `needle` (or `stale`) in `chat` after its `since`-th text."""
        deadline = asyncio.get_running_loop().time() + within
        wanted = [needle] if stale is None else [needle, stale]
        while not any(w in t for t in self.chats.texts[chat][since:] for w in wanted):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"chat {chat}: no {needle!r} in {self.chats.texts[chat]}")
            await asyncio.sleep(0.2)

    async def step(self, chat: int, update: dict[str, Any], needle: str) -> None:
        """Deliver one update and wait for the answer; pace a chat at Telegram's 1 message/s."""
        since = len(self.chats.texts[chat])
        await self.deliver(update)
        await self.expect(chat, needle, since)
        await asyncio.sleep(1.0)

    async def press(self, chat: int, label: str, needle: str) -> None:
        """Press the button whose label contains `label` on the chat's latest keyboard; press
        again, as a person would, when the bot says it was an earlier message's (a message
        sent twice after a crash leaves two keyboards, and the first may be pressed)."""
        for _ in range(5):
            message_id, buttons = self.chats.keyboards[chat]
            data = next(d for text, d in buttons if label.lower() in text.lower())
            update = await self.build(
                "callback_query", chat_id=chat, message_id=message_id, data=data
            )
            since = len(self.chats.texts[chat])
            await self.deliver(update)
            await self.expect(chat, needle, since, stale=STALE)
            await asyncio.sleep(1.0)
            if not any(STALE in t for t in self.chats.texts[chat][since:]):
                return
        raise AssertionError(f"chat {chat}: {label!r} refused as stale five times")

    async def converse(self, chat: int, photo: bytes | None, *, child: str | None = None) -> None:
        """One tipster's report: 8 updates, or 9 with a photo (and one more when open cases
        exist: the bot asks which child first, and `child` is the button pressed)."""
        await self.step(chat, await self.build("command", chat_id=chat, command="start"), "")
        if child is None:
            await self.press(chat, "Report a sighting", "What did you see?")
        else:
            await self.press(chat, "Report a sighting", "Which child")
            await self.press(chat, child, "What did you see?")
        text = f"Girl in a red coat near the station, chat {chat}"
        await self.step(chat, await self.build("text_message", chat_id=chat, text=text), "When")
        await self.press(chat, "Now", "Where did you see this?")
        xian = await self.build("text_message", chat_id=chat, text="Xi'an")
        await self.step(chat, xian, "Place saved")
        if photo is None:
            await self.press(chat, "Skip", "May we contact you")
        else:
            b64 = base64.b64encode(photo).decode()
            update = await self.build("photo_message", chat_id=chat, photo_bytes_b64=b64)
            await self.step(chat, update, "1 of 10 files")
            await self.press(chat, "Done", "May we contact you")
        await self.press(chat, "No, keep me anonymous", "Please check your report")
        await self.press(chat, "Send report", "Reference:")

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self.fake.aclose()
        await self.http.aclose()


def plan(updates: int, photos: int) -> tuple[int, int]:
    """(text chats, photo chats) making exactly `updates` updates with `photos` photo chats."""
    text_chats, rest = divmod(updates - photos * PHOTO_STEPS, TEXT_STEPS)
    if rest or text_chats < 0:
        raise ValueError(f"{updates} updates cannot be split with {photos} photo chats")
    return text_chats, photos


def max_rate(times: list[float], window: float) -> float:
    """The highest number of sends in any `window` seconds, per second."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best / window
