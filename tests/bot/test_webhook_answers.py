"""Webhook mode: a private button press is answered in the webhook's 200, and not again.

Transcripts POST each update to the real webhook endpoint (durable admission), run the method
its 200 carries on the fake Bot API server as Telegram does, then run the real inbox processor.
Presses in the moderators' group, and every press in polling mode, are answered by the processor.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from bot.polling import DurablePoller
from handlers import build_routers, moderators
from handlers.context import Limits
from storage.models import InboxUpdate
from tests.bot.fixtures import all_tips, assert_all_processed, sent_ref, walk_to_summary
from tests.bot.harness import Transcript, build_transcript
from tests.keys import CHAT_KEY

CHAT = 3101
GROUP = -1001234567890
SLOW_DOWN = "You are sending messages very quickly"


@pytest.fixture
async def hook(fake, sessions, services) -> AsyncIterator[Transcript]:
    """The whole tipster bot, its updates admitted through the webhook endpoint."""
    transcript = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=build_routers(), webhook=True
    )
    yield transcript
    assert transcript.webhook is not None
    await transcript.webhook.close()
    await transcript.bot.session.close()


@pytest.fixture
async def hook_group(fake, sessions, services) -> AsyncIterator[Transcript]:
    """The same with the moderators' router and group, as the composition root wires them."""
    fake.register_chat(GROUP, type="supergroup", title="Moderators")
    services.moderators_chat_id = GROUP
    routers = build_routers()
    if not any(r.name == "moderators" for r in routers):
        routers.insert(1, moderators.build_router())
    transcript = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=routers, webhook=True
    )
    yield transcript
    assert transcript.webhook is not None
    await transcript.webhook.close()
    await transcript.bot.session.close()


async def _acknowledged(chat: Transcript) -> dict[int, bool]:
    async with chat.sessions() as session:
        rows = await session.execute(select(InboxUpdate.update_id, InboxUpdate.acknowledged))
        return {update_id: acknowledged for update_id, acknowledged in rows.all()}


def _last_press(chat: Transcript) -> tuple[int, str]:
    """(update_id, callback query id) of the latest press the fake built."""
    assert chat.webhook is not None
    update = json.loads(chat.webhook.responses[-1].request.content)
    return update["update_id"], update["callback_query"]["id"]


async def test_a_private_press_is_answered_in_the_200_and_the_processor_does_not_answer(hook, fake):
    await hook.send(fake.command(CHAT, "start"))
    calls = await hook.press(CHAT, "Report a sighting")
    update_id, query_id = _last_press(hook)

    response = hook.webhook.responses[-1]
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": query_id}
    # One answer, the one Telegram ran from the response, before the processor's reply.
    assert [c.method for c in calls] == ["answerCallbackQuery", "sendMessage"]
    [answer] = fake.calls("answerCallbackQuery")
    assert answer.ok and answer.params == {"callback_query_id": query_id}
    assert "What did you see?" in hook.last_text(CHAT)
    acknowledged = await _acknowledged(hook)
    assert acknowledged[update_id] is True
    assert list(acknowledged.values()).count(True) == 1  # /start was not a press
    await assert_all_processed(hook)


async def test_a_whole_report_in_webhook_mode_answers_every_press_once(hook, fake):
    await hook.send(fake.command(CHAT, "start"))
    await hook.press(CHAT, "Report a sighting")
    await walk_to_summary(hook, fake, CHAT, text="Boy in a green cap near the ferry")
    await hook.press(CHAT, "Send report")

    [tip] = await all_tips(hook.sessions)
    assert tip.ref == sent_ref(hook.last_text(CHAT))
    presses = [r for r in hook.webhook.responses if r.content]
    answers = fake.calls("answerCallbackQuery")
    assert len(presses) == len(answers) == 6
    assert all(a.ok for a in answers)
    assert [a.params["callback_query_id"] for a in answers] == [
        r.json()["callback_query_id"] for r in presses
    ]
    await assert_all_processed(hook)


async def test_a_press_in_the_moderators_group_gets_an_empty_200_and_the_processor_answers(
    hook_group, fake
):
    calls = await hook_group.send(fake.callback_query(GROUP, 1, "no-such-token", user=7001))
    update_id, _ = _last_press(hook_group)

    response = hook_group.webhook.responses[-1]
    assert response.status_code == 200 and response.content == b""
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    [answer] = fake.calls("answerCallbackQuery")
    assert answer.ok and answer.params["text"].startswith("This button is no longer valid")
    assert (await _acknowledged(hook_group)) == {update_id: False}


async def test_a_redelivered_press_is_answered_in_both_200s_and_handled_once(hook, fake):
    await hook.send(fake.command(CHAT, "start"))
    [(_, data)] = [b for b in hook.buttons(CHAT) if "Report" in b[0]]
    message_id = fake.sent_messages(CHAT)[-1]["message_id"]
    press = fake.callback_query(CHAT, message_id, data)
    assert hook.webhook is not None
    first = await hook.webhook.post(press)
    again = await hook.webhook.post(press)  # Telegram did not get the first 200
    while await hook.processor.run_once():
        pass

    assert (
        first.json()
        == again.json()
        == {
            "method": "answerCallbackQuery",
            "callback_query_id": press["callback_query"]["id"],
        }
    )
    # Telegram runs both; the second is refused as already answered, which harms nobody.
    assert [a.ok for a in fake.calls("answerCallbackQuery")] == [True, False]
    assert sum("What did you see?" in t for t in fake.sent_texts(CHAT)) == 1
    assert (await _acknowledged(hook))[press["update_id"]] is True
    await assert_all_processed(hook)


async def test_over_the_limit_in_webhook_mode_the_notice_is_a_chat_message_once(
    hook, fake, services
):
    services.limits = Limits(messages_per_minute=2)
    await hook.send(fake.command(CHAT, "start"))
    await hook.press(CHAT, "Report a sighting")  # the second update: still allowed
    before = len(fake.sent_texts(CHAT))
    await hook.press(CHAT, "Report a sighting")  # over the limit
    await hook.press(CHAT, "Report a sighting")  # over, and already told

    notices = fake.sent_texts(CHAT)[before:]
    assert len(notices) == 1 and notices[0].startswith(SLOW_DOWN)
    answers = fake.calls("answerCallbackQuery")
    assert len(answers) == 3 and all(a.ok and "text" not in a.params for a in answers)
    await assert_all_processed(hook)


async def test_over_the_limit_in_polling_mode_the_notice_is_on_the_answer(chat, fake, services):
    services.limits = Limits(messages_per_minute=1)
    await chat.send(fake.command(CHAT, "start"))
    before = len(fake.sent_texts(CHAT))
    await chat.press(CHAT, "Report a sighting")
    await chat.press(CHAT, "Report a sighting")

    assert fake.sent_texts(CHAT)[before:] == []
    answers = fake.calls("answerCallbackQuery")
    assert [a.ok for a in answers] == [True, True]
    assert all(str(a.params["text"]).startswith(SLOW_DOWN) for a in answers)


async def test_in_polling_mode_the_processor_answers_the_press(chat, fake, sessions):
    fake.push_update(fake.command(CHAT, "start"))
    poller = DurablePoller(
        chat_key=CHAT_KEY,
        sessions=sessions,
        token=fake.token,
        api_base=fake.base_url,
        wakeup=asyncio.Event(),
        timeout=0,
    )
    async with aiohttp.ClientSession() as http:
        assert await poller.poll_once(http) == 1
        while await chat.processor.run_once():
            pass
        [(_, data)] = [b for b in chat.buttons(CHAT) if "Report" in b[0]]
        message_id = fake.sent_messages(CHAT)[-1]["message_id"]
        press = fake.callback_query(CHAT, message_id, data)
        fake.push_update(press)
        assert await poller.poll_once(http) == 1
    before = len(fake.calls())
    while await chat.processor.run_once():
        pass

    processed = fake.calls()[before:]
    assert [c.method for c in processed] == ["answerCallbackQuery", "sendMessage"]
    assert processed[0].ok
    assert processed[0].params["callback_query_id"] == press["callback_query"]["id"]
    assert (await _acknowledged(chat))[press["update_id"]] is False
    await assert_all_processed(chat)
