"""Fixtures of the workers' tests: the photo stores and a police webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.photostore import PhotoStores, open_photo_stores
from tests.fakes.police_webhook import Receiver, serve_receiver


@pytest.fixture
def stores(tmp_media) -> PhotoStores:
    return open_photo_stores(tmp_media)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async for found in serve_receiver():
        yield found
