"""An SMS tip line in one test: the served webhook, the chat processor and the relay with the
SMS sender, against the fake provider; the texts the fake recorded, read as a transcript."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.geo import build_geocoder
from handlers.chats.processor import ChatProcessor
from handlers.context import BotServices
from handlers.sms.transport import sms_transport
from tests.chat_workers import Clock, drain
from tests.keys import TEST_VAULT
from tests.sms.world import World, served, sms_relay
from workers.relay import Relay

PHONE = "+447700900123"
GEOCODER = build_geocoder(user_agent="tipline-tests")


def number_of(reply: str, label: str) -> str:
    """The number a reply gives the choice with this label ("2 Earlier today" -> "2")."""
    for line in reply.split("\n"):
        found = re.fullmatch(r"(\d+) (.*)", line)
        if found and found.group(2).strip("<> ") == label.strip("‹› "):
            return found.group(1)
    raise AssertionError(f"no choice {label!r} in {reply!r}")


@dataclass
class Line:
    """The tip line as one person on SMS meets it."""

    world: World
    processor: ChatProcessor
    relay: Relay
    clock: Clock
    phone: str = PHONE
    transcript: list[str] = field(default_factory=list)
    seen: int = 0

    async def texts(self, body: str, *, sid: str | None = None) -> list[str]:
        """The person sends a text; the texts they got back."""
        fields = self.world.fake.inbound(self.phone, body, sid=sid)
        status, _ = await self.world.fake.deliver(self.world.url, fields)
        assert status == 200
        self.transcript.append(f"> {body}")
        return await self.settle()

    async def picks(self, reply: str, label: str) -> list[str]:
        """The person answers a menu with the number of the choice labelled `label`."""
        return await self.texts(number_of(reply, label))

    async def settle(self) -> list[str]:
        """Process what came in, relay what went out; the texts sent since the last look."""
        await drain(self.processor, self.relay, self.clock)
        new = [send.body for send in self.world.fake.sends[self.seen :]]
        self.seen = len(self.world.fake.sends)
        self.transcript.extend(new)
        return new


@asynccontextmanager
async def sms_line(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tmp: Path
) -> AsyncIterator[Line]:
    """The served webhook and every worker of an SMS conversation."""
    async with served(engine, sessions, tmp) as world, aiohttp.ClientSession() as http:
        relay, clock = sms_relay(world.fake, sessions, http)
        services = BotServices(vault=TEST_VAULT, geocoder=GEOCODER)
        processor = ChatProcessor(sessions=sessions, transport=sms_transport(), services=services)
        yield Line(world, processor, relay, clock)
