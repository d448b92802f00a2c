"""An SMS tipster's number is nowhere at rest but in the vault's ciphertext; erasing their
identity removes their admitted texts and last menu (their STOP stays honoured)."""

from __future__ import annotations

import pytest

from core.identity.erasure import erase_identity
from core.identity.tipsters import get_or_create_tipster
from core.sms.admission import sender_key
from core.sms.menus import menu_of, remember
from tests.keys import TEST_VAULT
from tests.privacy_scan import scan_tables
from tests.sms.world import inbox, opt_outs, served

PHONE = "+8613912345678"
KEY = sender_key(TEST_VAULT, PHONE)


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


async def _tipster(sessions) -> int:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session, TEST_VAULT, channel="sms", external_id=PHONE, identity={}, language="zh-Hans"
        )
        return tipster.id


async def test_the_number_is_only_sealed(world, engine, sessions):
    tipster_id = await _tipster(sessions)
    for body in ("我看到她了", "STOP", "HELP"):
        assert (await world.fake.deliver(world.url, world.fake.inbound(PHONE, body)))[0] == 200
    async with sessions() as session:
        await remember(session, tipster_id, {"1": "r:when:now"})
        await session.commit()
    assert await scan_tables(engine, [PHONE, PHONE[1:], PHONE[3:]]) == []


async def test_a_menu_is_remembered_replaced_and_forgotten_by_tipster(sessions):
    tipster_id = await _tipster(sessions)
    async with sessions() as session:
        await remember(session, tipster_id, {"1": "a:1", "0": "a:back"})
        await remember(session, tipster_id, {"1": "b:1"})
        await session.commit()
        assert await menu_of(session, tipster_id) == {"1": "b:1"}
        assert await menu_of(session, tipster_id + 1) == {}
        await remember(session, tipster_id, {})
        await session.commit()
        assert await menu_of(session, tipster_id) == {}


async def test_erasing_the_identity_removes_their_texts_and_menu_but_keeps_their_stop(
    world, sessions
):
    tipster_id = await _tipster(sessions)
    for body in ("one", "two", "STOP"):
        await world.fake.deliver(world.url, world.fake.inbound(PHONE, body))
    await world.fake.deliver(world.url, world.fake.inbound("+447700900999", "someone else"))
    async with sessions() as session:
        await remember(session, tipster_id, {"1": "r:when:now"})
        await session.commit()
        erased = await erase_identity(
            session, TEST_VAULT, tipster_id=tipster_id, actor_id=None, actor_role="admin"
        )
        assert await menu_of(session, tipster_id) == {}
    assert erased.counts()["sms_messages"] == 3
    assert [r.payload for r in await inbox(sessions)] == [{"body": "someone else"}]
    assert await opt_outs(sessions) == [KEY]
