"""A WhatsApp tip line in one test: the served webhook, the chat processor, the relay with the
WhatsApp sender and the photo workers, all against the fake Graph API; and the replies the fake
recorded, read as a transcript."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.geo import build_geocoder
from core.i18n import Texts
from handlers.chats.processor import ChatProcessor
from handlers.context import BotServices
from handlers.whatsapp.transport import whatsapp_transport
from storage.photostore import open_photo_stores
from tests.chat_workers import Clock, drain, relay
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import Send
from tests.keys import TEST_VAULT
from tests.whatsapp.world import World, served
from workers.case_photos import CasePhotoWorker
from workers.photos import PhotoWorker, by_source
from workers.relay import Relay
from workers.whatsapp.graph import GraphClient
from workers.whatsapp.media import whatsapp_fetcher
from workers.whatsapp.sender import WhatsAppSender

PHONE = "447700900123"
EN = Texts("en", "chat")
GEOCODER = build_geocoder(user_agent="tipline-tests")


def jpeg(seed: int = 0) -> bytes:
    """A small real JPEG."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 40 % 256, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


def line(send: Send) -> str:
    """One reply as the person reads it: its text, then its choices in brackets."""
    body = send.body
    if send.type == "text":
        return str(body["text"]["body"])
    interactive = body["interactive"]
    action = interactive["action"]
    if interactive["type"] == "button":
        titles = [b["reply"]["title"] for b in action["buttons"]]
    elif interactive["type"] == "list":
        titles = [row["title"] for section in action["sections"] for row in section["rows"]]
    else:
        titles = ["Send location"]
    return f"{interactive['body']['text']}\n  [{' | '.join(titles)}]"


def choices(send: Send) -> dict[str, str]:
    """A reply's choices: title -> the id that comes back when it is tapped."""
    return {title: reply_id for title, _, reply_id in _rows(send)}


def _rows(send: Send) -> list[tuple[str, str, str]]:
    """(title, the whole label, id) of each choice (a cut row title's label is its description)."""
    interactive = send.body.get("interactive") or {}
    action = interactive.get("action") or {}
    found = [(b["reply"]["title"],) * 2 + (b["reply"]["id"],) for b in action.get("buttons", [])]
    for section in action.get("sections", []):
        rows = section["rows"]
        found += [(r["title"], r.get("description", r["title"]), r["id"]) for r in rows]
    return found


def tap(reply: Send, label: str) -> tuple[str, dict[str, Any]]:
    """The message a tap on the first choice whose label starts with `label` sends."""
    title, reply_id = next((t, i) for t, whole, i in _rows(reply) if whole.startswith(label))
    kind = reply.body["interactive"]["type"]
    made = wa.button_reply if kind == "button" else wa.list_reply
    return made(reply_id, title)


@dataclass
class Line:
    """The tip line as one person on WhatsApp meets it."""

    world: World
    processor: ChatProcessor
    relay: Relay
    photos: PhotoWorker
    case_photos: CasePhotoWorker
    clock: Clock
    phone: str = PHONE
    transcript: list[str] = field(default_factory=list)
    seen: int = 0

    async def sends(self, kind: str, body: Any, *, wamid: str | None = None) -> list[Send]:
        """The person sends a message; the replies it got."""
        payload = wa.message(self.world.fake.phone_number_id, self.phone, kind, body, wamid=wamid)
        assert await self.world.fake.deliver(self.world.url, payload) == 200
        self.transcript.append(f"> {kind}")
        return await self.settle()

    async def taps(self, reply: Send, label: str) -> list[Send]:
        """The person taps the first choice whose label starts with this."""
        return await self.sends(*tap(reply, label))

    async def types(self, *texts: str) -> Send:
        """The person types these, one message each; the last reply."""
        for text in texts:
            *_, last = await self.sends(*wa.text(text))
        return last

    async def reports(self, sighting: str) -> str:
        """A whole report from what was seen (now, no place, no photo, may be contacted) to
        Send; the tip's reference."""
        (when,) = await self.sends(*wa.text(sighting))
        (where,) = await self.taps(when, EN("button.when_now"))
        assert EN("report.ask_where") in line(where)
        (photos,) = await self.sends(*wa.location(34.2612, 108.9423, "Lianhu Road"))
        (contact,) = await self.taps(photos, EN("button.skip"))
        (summary,) = await self.taps(contact, EN("button.contact_yes"))
        (sent,) = await self.taps(summary, EN("button.send"))
        found = re.search(r"Reference: (\S+)", line(sent))
        assert found, line(sent)
        return found.group(1)

    async def settle(self) -> list[Send]:
        """Process what came in, relay what went out; the replies sent since the last look."""
        await drain(self.processor, self.relay, self.clock)
        new = self.world.fake.sends[self.seen :]
        self.seen = len(self.world.fake.sends)
        self.transcript.extend(line(send) for send in new)
        return new


@asynccontextmanager
async def whatsapp_line(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tmp: Path
) -> AsyncIterator[Line]:
    """The served webhook and every worker of a WhatsApp conversation."""
    async with served(engine, sessions, tmp) as world, aiohttp.ClientSession() as http:
        fake = world.fake
        graph = GraphClient(
            http, base=fake.base_url, token=fake.token, phone_number_id=fake.phone_number_id
        )
        stores = open_photo_stores(tmp / "media")
        clock = Clock()
        sender = WhatsAppSender(
            graph=graph,
            vault=TEST_VAULT,
            sessions=sessions,
            display_store=stores.display,
            clock=clock,
        )
        services = BotServices(vault=TEST_VAULT, geocoder=GEOCODER)
        processor = ChatProcessor(
            sessions=sessions, transport=whatsapp_transport(), services=services
        )
        fetch = by_source({"whatsapp": whatsapp_fetcher(graph)})
        photos = PhotoWorker(
            sessions=sessions, stores=stores, quarantine=stores.quarantine, fetch=fetch
        )
        case_photos = CasePhotoWorker(
            sessions=sessions, stores=stores, quarantine=stores.quarantine, fetch=fetch
        )
        yield Line(
            world, processor, relay(sessions, "whatsapp", sender, clock), photos, case_photos, clock
        )
