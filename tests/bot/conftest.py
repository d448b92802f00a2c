"""Fixtures for bot tests: the fake Telegram server, services, and a transcript driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache

import pytest

from core.geo import GeocodingService, build_geocoder
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter
from handlers.context import BotServices
from tests.bot.harness import Transcript, build_transcript
from tests.fakes.telegram.server import FakeTelegram


@cache
def geocoder() -> GeocodingService:
    """One offline geocoder for the whole test run (it takes a second or two to load)."""
    return build_geocoder(user_agent="tipline-test")


@pytest.fixture
def services() -> BotServices:
    """Fresh services (vault key, limiter) per test."""
    return BotServices(
        vault=Vault(Vault.new_key()), geocoder=geocoder(), limiter=MemoryRateLimiter()
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Bot API server without rate limits (tests that need them turn them on)."""
    async with FakeTelegram(rate_limits=None) as server:
        yield server


@pytest.fixture
async def chat(fake, sessions, services) -> AsyncIterator[Transcript]:
    """The whole tipster bot, driven through the inbox."""
    from handlers import build_routers

    transcript = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=build_routers()
    )
    yield transcript
    await transcript.bot.session.close()
