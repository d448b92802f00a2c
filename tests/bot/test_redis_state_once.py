"""With conversation state in Redis, the state is saved apart from the update's outcome: a bot
killed between the two handles the update again after its restart (R2 found a tipster's
description taken a second time as the answer to "When?"). The data records the update that
last changed it, so the second handling changes nothing and says nothing. On SQLite and
PostgreSQL, against the real Redis."""

from __future__ import annotations

from aiogram.types import Update
from redis.asyncio import Redis

from tests.bot.harness import Transcript
from tests.bot.test_erasure_redis import chat, prefix, redis  # noqa: F401 - fixtures
from tests.bot.test_forget import CHAT, USER
from tests.redis_server import dump

SIGHTING = "A girl in a yellow raincoat at the bus station"


async def _handle_again(bot: Transcript, update: dict) -> None:  # type: ignore[type-arg]
    """What the inbox processor does with an update still pending after a crash."""
    event = Update.model_validate(update, context={"bot": bot.bot})
    async with bot.sessions() as session:
        await bot.dispatcher.feed_update(bot.bot, event, session=session, acknowledged=False)
        await session.commit()


async def test_an_update_handled_again_after_a_crash_is_not_applied_twice(
    chat: Transcript,  # noqa: F811
    fake,  # type: ignore[no-untyped-def]
    redis: Redis,  # noqa: F811
    prefix: str,  # noqa: F811
) -> None:
    await chat.send(fake.text_message(CHAT, "/start", user=USER))
    sighting = fake.text_message(CHAT, SIGHTING, user=USER)
    await chat.send(sighting)
    assert "When" in chat.last_text(CHAT)
    said, held = len(chat.messages(CHAT)), await dump(redis, f"{prefix}*")

    await _handle_again(chat, sighting)

    assert len(chat.messages(CHAT)) == said  # no second "When?", no "did not understand"
    assert await dump(redis, f"{prefix}*") == held  # the draft and its step as they were

    await chat.send(fake.text_message(CHAT, "00:00", user=USER))  # never ahead of now
    assert "Where" in chat.last_text(CHAT)
