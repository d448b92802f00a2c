"""Fixtures of the workers' tests: the photo stores, the real face engine and a police webhook
receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.faces import load_face_engine
from core.faces.engine import FaceEngine
from storage.photostore import PhotoStores, open_photo_stores
from tests.fakes.police_webhook import Receiver, serve_receiver


@pytest.fixture
def stores(tmp_media) -> PhotoStores:
    return open_photo_stores(tmp_media)


@pytest.fixture(scope="module")
def real_engine() -> FaceEngine:
    loaded = load_face_engine()
    assert loaded is not None, "the 'faces' extra is part of the test environment (uv --all-extras)"
    return loaded


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async for found in serve_receiver():
        yield found
