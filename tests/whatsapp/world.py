"""The web app with WhatsApp configured, served by uvicorn on 127.0.0.1, and the fake Graph
API that delivers signed webhooks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.whatsapp.admission import WhatsAppAdmission
from storage.models import WhatsAppInbound
from storage.types import utcnow
from tests.fakes.whatsapp.server import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsApp,
)
from tests.keys import TEST_VAULT
from tests.processes import free_port, tipline_env
from tests.served import serving, web_context
from web.app import WebContext
from web.whatsapp import WhatsAppIntake
from workers.relay import Relay, Retry
from workers.whatsapp.graph import GraphClient
from workers.whatsapp.sender import WhatsAppSender


@dataclass
class World:
    """The served app's webhook URL and the fake that talks to it."""

    url: str
    fake: FakeWhatsApp


def whatsapp_settings(fake: FakeWhatsApp) -> dict[str, str]:
    """The environment that turns WhatsApp on against the fake (started or not yet)."""
    return {
        "TIPLINE_WHATSAPP_TOKEN": TOKEN,
        "TIPLINE_WHATSAPP_APP_SECRET": APP_SECRET,
        "TIPLINE_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "TIPLINE_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "TIPLINE_WHATSAPP_API_BASE": fake.base_url,
    }


def whatsapp_env(tmp_path: Path, fake: FakeWhatsApp) -> dict[str, str]:
    """`tipline run`'s environment on its own SQLite file, with WhatsApp on against the fake."""
    return tipline_env(tmp_path, TIPLINE_FACES="false", **whatsapp_settings(fake))


def context(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], media: Path
) -> WebContext:
    """A web context with the WhatsApp intake on, keyed with the tests' vault."""
    intake = WhatsAppIntake(
        app_secret=FakeWhatsApp().app_secret,
        verify_token=VERIFY_TOKEN,
        phone_number_id=FakeWhatsApp().phone_number_id,
        admission=WhatsAppAdmission(sessions, TEST_VAULT),
    )
    return web_context(engine, sessions, media, whatsapp=intake)


@asynccontextmanager
async def served(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], media: Path
) -> AsyncIterator[World]:
    """uvicorn serving the app on a free port, and the fake Graph API."""
    ctx = context(engine, sessions, media)
    port = free_port()
    try:
        async with serving(ctx, port), FakeWhatsApp() as fake:
            yield World(f"http://127.0.0.1:{port}/whatsapp/webhook", fake)
    finally:
        assert ctx.whatsapp is not None
        await ctx.whatsapp.admission.close()


async def inbox(sessions: async_sessionmaker[AsyncSession]) -> list[WhatsAppInbound]:
    """Every admitted WhatsApp message, oldest first."""
    async with sessions() as session:
        stmt = select(WhatsAppInbound).order_by(WhatsAppInbound.id)
        return list((await session.scalars(stmt)).all())


async def relay_once(
    world: World, sessions: async_sessionmaker[AsyncSession], *, hours_later: float = 0
) -> None:
    """One round of the real relay with the WhatsApp sender, its clock `hours_later`."""
    async with aiohttp.ClientSession() as http:
        graph = GraphClient(
            http,
            base=world.fake.base_url,
            token=world.fake.token,
            phone_number_id=world.fake.phone_number_id,
        )
        sender = WhatsAppSender(
            graph=graph,
            vault=TEST_VAULT,
            sessions=sessions,
            wall=lambda: utcnow() + timedelta(hours=hours_later),
        )
        relay = Relay(
            sessions=sessions,
            senders={"whatsapp": sender},
            retry=Retry(max_attempts=3, base=0.01),
            send_timeout=10,
            lease=30,
        )
        await relay.run_once()
