"""Drive the real bot (Dispatcher, middlewares, inbox processor) against the fake Telegram server.

Tests read like transcripts:

    await chat.send(fake.command(CHAT, "start"))
    assert "report a sighting" in chat.last_text(CHAT).lower()
    await chat.press(CHAT, "Report a sighting")

By default updates are admitted as polling does (core.delivery.inbox.admit); with a `Webhook`, they
are POSTed to the real webhook endpoint and the method it answers with is run on the fake, as
Telegram does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
from aiogram import Bot, Dispatcher, Router
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.factory import create_bot, create_dispatcher
from bot.fsm import KeyedStateKeys, SqlStorage
from bot.processor import InboxProcessor
from core.delivery.inbox import AdmissionBatcher, admit
from handlers.context import BotServices
from tests.fakes.telegram.server import FakeTelegram
from tests.fakes.telegram.state import Call
from tests.keys import CHAT_KEY
from web.telegram import SECRET_HEADER, WEBHOOK_PATH, WebhookFirst

SENDING = ("sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup", "copyMessage")
WEBHOOK_SECRET = "w" * 40


class Webhook:
    """Telegram's side of webhook mode: POST an update to the real endpoint (as `tipline run`
    serves it, with durable admission), then run the Bot API method its 200 carries."""

    def __init__(self, fake: FakeTelegram, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.fake = fake
        self.admission = AdmissionBatcher(sessions, chat_key=CHAT_KEY)
        inner = Starlette()  # never reached: WebhookFirst answers the webhook's POSTs itself
        inner.state.context = SimpleNamespace(
            webhook_secret=WEBHOOK_SECRET, admission=self.admission
        )
        transport = httpx.ASGITransport(app=WebhookFirst(inner))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://tipline")
        self.responses: list[httpx.Response] = []

    async def post(self, update: dict[str, Any]) -> httpx.Response:
        """Deliver one update; the response is also kept in `responses`."""
        headers = {SECRET_HEADER: WEBHOOK_SECRET}
        response = await self.client.post(WEBHOOK_PATH, json=update, headers=headers)
        self.responses.append(response)
        if response.status_code == 200:
            await self.fake.run_webhook_reply(response.content)
        return response

    async def close(self) -> None:
        """Stop the admission batcher and the HTTP client."""
        await self.admission.close()
        await self.client.aclose()


@dataclass
class Transcript:
    """A conversation with the bot through the inbox, as a tipster would have it."""

    fake: FakeTelegram
    bot: Bot
    dispatcher: Dispatcher
    processor: InboxProcessor
    sessions: async_sessionmaker[AsyncSession]
    webhook: Webhook | None = None

    async def send(self, update: dict[str, Any]) -> list[Call]:
        """Admit an update to the inbox, process everything due, return the bot's new calls.

        The calls include one the webhook's response carried (webhook mode).
        """
        before = len(self.fake.calls())
        if self.webhook is not None:
            response = await self.webhook.post(update)
            assert response.status_code == 200, response.status_code
        else:
            async with self.sessions() as session:
                await admit(session, chat_key=CHAT_KEY, updates=[update])
        while await self.processor.run_once():
            pass
        return self.fake.calls()[before:]

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Everything the bot sent or edited in a chat, oldest first."""
        return [c.params for c in self.fake.calls(chat_id=chat_id) if c.method in SENDING and c.ok]

    def last_text(self, chat_id: int) -> str:
        """The text (or caption) of the bot's latest message in a chat."""
        for params in reversed(self.messages(chat_id)):
            text = params.get("text") or params.get("caption")
            if text:
                return str(text)
        raise AssertionError(f"the bot has said nothing in chat {chat_id}")

    def buttons(self, chat_id: int) -> list[tuple[str, str]]:
        """(label, callback data) of the inline keyboard on the bot's latest message with one."""
        for params in reversed(self.messages(chat_id)):
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if markup and "inline_keyboard" in markup:
                return [
                    (b["text"], b.get("callback_data", ""))
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
        return []

    async def press(self, chat_id: int, label: str, **user: Any) -> list[Call]:
        """Press the inline button whose label contains `label` on the latest keyboard."""
        for params, message_id in self._keyboards(chat_id):
            for text, data in params:
                if label.lower() in text.lower():
                    update = self.fake.callback_query(chat_id, message_id, data, **user)
                    return await self.send(update)
        raise AssertionError(f"no button {label!r} in chat {chat_id}: {self.buttons(chat_id)}")

    def _keyboards(self, chat_id: int) -> list[tuple[list[tuple[str, str]], int]]:
        found = []
        for call in reversed(self.fake.calls(chat_id=chat_id)):
            if call.method not in SENDING or not call.ok:
                continue
            markup = call.params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if not markup or "inline_keyboard" not in markup:
                continue
            message_id = call.params.get("message_id") or (call.result or {}).get("message_id")
            rows = [
                (b["text"], b.get("callback_data", ""))
                for r in markup["inline_keyboard"]
                for b in r
            ]
            found.append((rows, int(message_id)))
        return found


def build_transcript(
    *,
    fake: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    services: BotServices,
    routers: list[Router],
    webhook: bool = False,
    storage: BaseStorage | None = None,
) -> Transcript:
    """Wire the real bot stack to the fake server and a test database (admitting updates
    through the webhook endpoint with webhook=True; close `transcript.webhook` after).

    `storage`: where conversation state lives (default: the database, as without Redis)."""
    bot = create_bot(token=fake.token, api_base=fake.base_url)  # the session `tipline run` uses
    dispatcher = create_dispatcher(
        storage=storage or SqlStorage(sessions, keys=KeyedStateKeys(services.vault)),
        services=services,
        routers=routers,
    )
    processor = InboxProcessor(sessions=sessions, dispatcher=dispatcher, bot=bot)
    return Transcript(
        fake=fake,
        bot=bot,
        dispatcher=dispatcher,
        processor=processor,
        sessions=sessions,
        webhook=Webhook(fake, sessions) if webhook else None,
    )
