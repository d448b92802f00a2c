"""Erasure on a bot that keeps conversation state in Redis (TIPLINE_REDIS_URL): /forget and the
two senior moderators' erasure both delete the person's state there, and a scan of every Redis
key and value finds nothing of them. Staff join through invitations and sign in with TOTP
(tests/web/front_door.py). On SQLite and PostgreSQL, against the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.fsm import KeyedStateKeys
from core.identity.conversations import RedisConversations
from handlers import build_routers
from storage.models import AuditEvent, ErasureRequest, Tipster, TipsterIdentity
from tests.bot.harness import Transcript, build_transcript
from tests.bot.test_forget import CHAT, PERSON, USER, keyed_needles
from tests.redis_server import REDIS_URL, dump, hits, require_redis
from tests.web import dashboard_world as world
from tests.web import front_door
from web.app import WebContext

SIGHTING = "A boy with a torn blue kite near the river ferry"
REASON = "the tipster wrote to our helpline asking to be forgotten"
AWAY = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a Redis that is down


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """The test Redis; every key a test leaves under its prefix is removed after it."""
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    """A prefix of this test's own (as TIPLINE_REDIS_PREFIX gives a deployment)."""
    return f"t{secrets.token_hex(4)}:"


@pytest.fixture
async def chat(fake, sessions, services, redis, prefix) -> AsyncIterator[Transcript]:
    """The whole bot with its conversation state in Redis, as `tipline run` builds it then."""
    storage = RedisStorage.from_url(
        REDIS_URL, key_builder=KeyedStateKeys(services.vault, prefix=prefix)
    )
    services.conversations = RedisConversations.from_url(REDIS_URL, prefix=prefix)
    transcript = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=build_routers(), storage=storage
    )
    yield transcript
    await transcript.bot.session.close()
    await storage.close()
    await services.conversations.close()
    leftover = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if leftover:
        await redis.delete(*leftover)


async def _report_in_progress(chat: Transcript, fake, redis: Redis, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """The tipster shares their contact and starts a report: its draft waits in Redis."""
    await chat.send(
        fake.contact_message(
            CHAT, PERSON.phone, PERSON.first_name, last_name=PERSON.last_name, user=USER
        )
    )
    await chat.send(fake.text_message(CHAT, SIGHTING, user=USER))
    assert "When" in chat.last_text(CHAT)
    held = await dump(redis, f"{prefix}*")
    assert any(name.endswith(":state") for name in held), held
    assert any(SIGHTING in value for value in held.values()), held


async def _assert_nothing_of_them_in_redis(redis: Redis, vault, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """No key of theirs is left, and no key or value anywhere in Redis names them."""
    assert await dump(redis, f"{prefix}*") == {}
    needles = [*PERSON.needles(), *keyed_needles(vault), SIGHTING]
    assert hits(await dump(redis, "*"), needles) == []


async def test_forget_deletes_the_conversation_state_held_in_redis(
    chat, fake, sessions, services, redis, prefix
):
    await _report_in_progress(chat, fake, redis, prefix)
    await chat.send(fake.command(CHAT, "forget", user=USER))
    await chat.press(CHAT, "Yes, erase", user=USER)
    assert chat.last_text(CHAT).startswith("Done: Tipline no longer knows who you are")
    await _assert_nothing_of_them_in_redis(redis, services.vault, prefix)
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "identity.erased")
        )
    assert event is not None and event.detail["conversation_states"] == 1


@pytest.fixture
def context(engine, sessions, services, chat, tmp_path) -> WebContext:  # type: ignore[no-untyped-def]
    """The dashboard's context, wired to the same vault and the same Redis as the bot."""
    context = world.build_context(engine, sessions, tmp_path / "media")
    context.vault = services.vault
    context.conversations = services.conversations
    return context


@pytest.fixture
async def client(context):  # type: ignore[no-untyped-def]
    """The dashboard."""
    async for client in world.client_for(context):
        yield client


async def _asked(client, sessions) -> tuple[world.Signed, int]:  # type: ignore[no-untyped-def]
    """Two senior moderators join through invitations; one asks to erase the tipster (by the
    pseudonym staff see). The other one, and the request."""
    admin = await front_door.first_admin(client, sessions)
    seniors = [
        await front_door.invited(
            client, sessions, admin, email=f"senior-{n}@example.org", role="senior_moderator"
        )
        for n in (1, 2)
    ]
    asker, approver = seniors
    async with sessions() as session:
        pseudonym = await session.scalar(select(Tipster.pseudonym))
    world.use(client, asker)
    asked = await client.post(
        "/erasures", data={"csrf": asker.csrf, "pseudonym": pseudonym, "reason": REASON}
    )
    assert asked.status_code == 303
    async with sessions() as session:
        request_id = await session.scalar(select(ErasureRequest.id))
    return approver, request_id


async def test_two_seniors_erasure_deletes_the_conversation_state_held_in_redis(
    chat, fake, sessions, services, redis, prefix, client
):
    await _report_in_progress(chat, fake, redis, prefix)
    approver, request_id = await _asked(client, sessions)
    world.use(client, approver)
    done = await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    assert done.status_code == 303
    await _assert_nothing_of_them_in_redis(redis, services.vault, prefix)

    # Writing again starts afresh: no draft comes back from anywhere.
    await chat.send(fake.command(CHAT, "start", user=USER))
    assert not any(SIGHTING in value for value in (await dump(redis, f"{prefix}*")).values())


async def test_an_approval_while_redis_is_away_erases_nothing_and_says_so(
    chat, fake, sessions, services, redis, prefix, context, client
):
    await _report_in_progress(chat, fake, redis, prefix)
    approver, request_id = await _asked(client, sessions)
    context.conversations = RedisConversations.from_url(AWAY, prefix=prefix)
    world.use(client, approver)
    refused = await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    await context.conversations.close()
    assert refused.status_code == 503 and "nothing was erased" in refused.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(TipsterIdentity.id))) == 1
        request = await session.get(ErasureRequest, request_id)
        assert request is not None and request.status == "pending"

    context.conversations = services.conversations  # Redis is back: the same request goes through
    done = await client.post(f"/erasures/{request_id}/approve", data={"csrf": approver.csrf})
    assert done.status_code == 303
    await _assert_nothing_of_them_in_redis(redis, services.vault, prefix)
