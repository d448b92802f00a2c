"""STOP, START and HELP as carriers require: whole-message keywords in any case, opt-outs
durable before the 200, keywords never reaching a flow, HELP answered with who we are."""

from __future__ import annotations

import pytest

from core.sms.admission import sender_key
from core.sms.webhook import Inbound
from tests.keys import TEST_VAULT
from tests.sms.world import NAME, inbox, opt_outs, served

PHONE = "+8613800001111"
KEY = sender_key(TEST_VAULT, PHONE)


@pytest.fixture
async def world(engine, sessions, tmp_path):
    async with served(engine, sessions, tmp_path) as world:
        yield world


async def _text(world, body: str, sid: str | None = None) -> tuple[int, str]:
    return await world.fake.deliver(world.url, world.fake.inbound(PHONE, body, sid=sid))


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END", "quit"]
)
async def test_every_opt_out_keyword_opts_the_number_out_before_the_200(world, sessions, word):
    status, body = await _text(world, word)
    assert status == 200
    assert "<Message>" not in body  # the provider confirms STOP itself
    assert await opt_outs(sessions) == [KEY]
    (row,) = await inbox(sessions)
    assert (row.kind, row.payload, row.status) == ("keyword", {"keyword": "stop"}, "done")
    assert row.sealed_sender == b""  # answered already: the number is not kept, even sealed


@pytest.mark.parametrize("word", ["START", "unstop"])
async def test_start_or_unstop_opts_the_number_in_again(world, sessions, word):
    await _text(world, "STOP")
    await _text(world, word)
    assert await opt_outs(sessions) == []


async def test_a_redelivered_stop_after_start_does_not_opt_out_again(world, sessions):
    stop = world.fake.inbound(PHONE, "STOP")
    await world.fake.deliver(world.url, stop)
    await _text(world, "START")
    await world.fake.deliver(world.url, stop)  # the same MessageSid, late
    assert await opt_outs(sessions) == []


@pytest.mark.parametrize("word", ["HELP", "info"])
async def test_help_is_answered_with_the_name_and_how_to_stop(world, sessions, word):
    status, body = await _text(world, word)
    assert status == 200
    assert f"<Message>{NAME}: report a sighting" in body
    assert "Text STOP to end messages" in body
    assert await opt_outs(sessions) == []


@pytest.mark.parametrize(
    "body", ["stop please", "please stop at the corner", "cancel my report", "helpful"]
)
async def test_a_keyword_inside_a_longer_message_is_text_for_the_flow(body):
    assert Inbound("SM" + "0" * 32, PHONE, body, 0).keyword is None
