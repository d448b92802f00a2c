"""A WhatsApp tipster's number and name are nowhere at rest but in the vault's ciphertext, and
erasing their identity removes their admitted messages (which hold the number sealed)."""

from __future__ import annotations

import pytest

from core.identity.erasure import erase_identity
from core.identity.tipsters import get_or_create_tipster
from tests.fakes.whatsapp import payloads as wa
from tests.keys import TEST_VAULT
from tests.privacy_scan import scan_tables
from tests.whatsapp.world import inbox, served

PHONE = "8613912345678"
NAME = "Zhang Xiaoming"


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


async def _tipster(sessions) -> int:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            TEST_VAULT,
            channel="whatsapp",
            external_id=PHONE,
            identity={"name": NAME},
            language="zh-Hans",
        )
        return tipster.id


async def test_number_name_and_shared_cards_are_only_sealed(world, engine, sessions):
    await _tipster(sessions)
    number = world.fake.phone_number_id
    for kind, body in (wa.text("我看到她了"), wa.contacts("Li Dashan", "+86 137 0000 9999")):
        payload = wa.message(number, PHONE, kind, body, name=NAME)
        assert await world.fake.deliver(world.url, payload) == 200
    needles = [PHONE, NAME, "Li Dashan", "137 0000 9999"]
    assert await scan_tables(engine, needles) == []


async def test_erasing_the_identity_removes_their_whatsapp_messages(world, sessions):
    tipster_id = await _tipster(sessions)
    number = world.fake.phone_number_id
    for text in ("one", "two"):
        assert await world.fake.deliver(world.url, wa.message(number, PHONE, *wa.text(text))) == 200
    other = wa.message(number, "447700900999", *wa.text("someone else"))
    assert await world.fake.deliver(world.url, other) == 200
    async with sessions() as session:
        erased = await erase_identity(
            session, TEST_VAULT, tipster_id=tipster_id, actor_id=None, actor_role="admin"
        )
    assert erased.counts()["whatsapp_messages"] == 2
    assert [r.payload["text"]["body"] for r in await inbox(sessions)] == ["someone else"]
