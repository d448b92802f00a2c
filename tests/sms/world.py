"""The web app with SMS configured, served by uvicorn on 127.0.0.1, and the fake SMS provider
that posts signed webhooks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.sms.admission import SmsAdmission
from storage.models import SmsInbound, SmsOptOut
from tests.chat_workers import Clock, relay
from tests.fakes.sms.server import AUTH_TOKEN, FakeSms
from tests.keys import TEST_VAULT
from tests.processes import free_port
from tests.served import serving, web_context
from web.app import WebContext
from web.sms import STATUS_PATH, WEBHOOK_PATH, SmsIntake
from workers.relay import Relay
from workers.sms.rest import SmsClient
from workers.sms.sender import SmsSender

NAME = "Tipline Shanghai"


@dataclass
class World:
    """The served app's webhook URL and the fake provider that talks to it."""

    url: str
    status_url: str
    fake: FakeSms


def context(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], media: Path, base_url: str
) -> WebContext:
    """A web context with the SMS intake on, signed for URLs under `base_url`, keyed with the
    tests' vault."""
    intake = SmsIntake(
        auth_token=AUTH_TOKEN,
        base_url=base_url,
        name=NAME,
        report_url="https://tips.example.org/report",
        admission=SmsAdmission(sessions, TEST_VAULT),
    )
    return web_context(engine, sessions, media, sms=intake)


@asynccontextmanager
async def served(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], media: Path
) -> AsyncIterator[World]:
    """uvicorn serving the app on a free port, and the fake provider."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ctx = context(engine, sessions, media, base)
    try:
        async with serving(ctx, port), FakeSms() as fake:
            yield World(base + WEBHOOK_PATH, base + STATUS_PATH, fake)
    finally:
        assert ctx.sms is not None
        await ctx.sms.admission.close()


def sms_relay(
    fake: FakeSms,
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    *,
    token: str | None = None,
    status_url: str | None = None,
) -> tuple[Relay, Clock]:
    """The real relay with the SMS sender, talking to the fake with its credentials (or another
    auth `token`), on a hand-moved clock."""
    client = SmsClient(
        http,
        base=fake.base_url,
        account_sid=fake.account_sid,
        auth_token=token or fake.auth_token,
        sender=fake.number,
        status_callback=status_url,
    )
    clock = Clock()
    sender = SmsSender(client=client, vault=TEST_VAULT, sessions=sessions, clock=clock)
    return relay(sessions, "sms", sender, clock), clock


async def inbox(sessions: async_sessionmaker[AsyncSession]) -> list[SmsInbound]:
    """Every admitted text, oldest first."""
    async with sessions() as session:
        stmt = select(SmsInbound).order_by(SmsInbound.id)
        return list((await session.scalars(stmt)).all())


async def opt_outs(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """The sender keys that are opted out."""
    async with sessions() as session:
        return list((await session.scalars(select(SmsOptOut.sender_key))).all())
