"""A person's WhatsApp photo: media id -> URL -> bytes with the token, through the same
sanitiser as Telegram photos; oversized, expired and non-photo media refused with a reason."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image

from core.photos import PhotoRejected
from tests.core.photos.photo_corpus import jpeg_with_everything
from tests.fakes.whatsapp.server import FakeWhatsApp
from workers.whatsapp.graph import GraphClient, MediaError
from workers.whatsapp.media import fetch_photo


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp() as fake:
        yield fake


@pytest.fixture
async def graph(fake) -> AsyncIterator[GraphClient]:
    async with aiohttp.ClientSession() as http:
        yield GraphClient(
            http, base=fake.base_url, token=fake.token, phone_number_id=fake.phone_number_id
        )


async def test_a_photo_is_downloaded_with_the_token_and_sanitised(fake, graph):
    media_id = fake.add_media(jpeg_with_everything())
    photo = await fetch_photo(graph, media_id)
    assert fake.state.media_fetches == 1
    assert photo.kind == "jpeg" and photo.evidence.has_gps  # kept as evidence...
    display = Image.open(io.BytesIO(photo.display))
    assert not display.getexif() and "icc_profile" not in display.info  # ...never passed on


async def test_media_over_the_limit_is_refused_before_its_bytes_are_read(fake, graph):
    media_id = fake.add_media(jpeg_with_everything())
    with pytest.raises(MediaError) as refused:
        await fetch_photo(graph, media_id, limit=1000)
    assert refused.value.reason == "too_large"
    assert fake.state.media_fetches == 0


async def test_media_that_lies_about_its_size_is_cut_off_at_the_limit(fake, graph):
    media_id = fake.add_media(b"\xff\xd8" + b"x" * 200_000)
    with pytest.raises(MediaError) as refused:
        await graph.download(media_id, limit=100_000)
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize("expired", [True, False], ids=["url expired", "unknown id"])
async def test_media_meta_no_longer_has_is_gone(fake, graph, expired):
    media_id = fake.add_media(jpeg_with_everything()) if expired else "404404404"
    if expired:
        fake.expire_media(media_id)
    with pytest.raises(MediaError) as refused:
        await fetch_photo(graph, media_id)
    assert refused.value.reason == "gone"


async def test_a_document_that_is_no_photo_is_rejected_by_the_sanitiser(fake, graph):
    media_id = fake.add_media(b"%PDF-1.7 not a photo", "application/pdf")
    with pytest.raises(PhotoRejected) as rejected:
        await fetch_photo(graph, media_id)
    assert rejected.value.message


async def test_a_wrong_token_is_unavailable_not_a_crash(fake):
    media_id = fake.add_media(jpeg_with_everything())
    async with aiohttp.ClientSession() as http:
        graph = GraphClient(
            http, base=fake.base_url, token="wrong", phone_number_id=fake.phone_number_id
        )
        with pytest.raises(MediaError) as refused:
            await fetch_photo(graph, media_id)
    assert refused.value.reason == "unavailable"
