"""A notice to a tipster who writes by SMS (a moderator's question, a decision) is queued as
one `sms` text with numbered choices, its menu kept for their reply, and relayed to the
provider; none is lost for want of an SMS payload."""

from __future__ import annotations

import aiohttp
import pytest

from core.delivery.people import Notice, tell
from core.identity.tipsters import get_or_create_tipster
from core.sms.menus import menu_of
from tests.fakes.sms.server import FakeSms
from tests.keys import TEST_VAULT
from tests.sms.world import sms_relay

PHONE = "+8613800002222"


@pytest.fixture
async def fake():
    async with FakeSms() as fake:
        yield fake


async def test_a_notice_with_buttons_goes_as_numbered_choices_and_becomes_the_menu(fake, sessions):
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session, TEST_VAULT, channel="sms", external_id=PHONE, identity={}, language="zh-Hans"
        )
        notice = Notice(
            "关于您的线索 K7Q2：她穿的外套是什么颜色？",
            "zh-Hans",
            buttons=[[("红色", "ans:K7Q2:red"), ("蓝色", "ans:K7Q2:blue")]],
            photo="a" * 64,
        )
        assert await tell(session, tipster_id=tipster.id, notice=notice, key="ask:1")
        assert not await tell(session, tipster_id=tipster.id, notice=notice, key="ask:1")
        await session.commit()
        assert await menu_of(session, tipster.id) == {"1": "ans:K7Q2:red", "2": "ans:K7Q2:blue"}
    async with aiohttp.ClientSession() as http:
        relay, _ = sms_relay(fake, sessions, http)
        await relay.run_once()
    (send,) = fake.sends
    assert send.to == PHONE
    assert send.body == "关于您的线索 K7Q2：她穿的外套是什么颜色？\n1 红色\n2 蓝色\n请回复数字。"
