"""Webhook admission: 200 only after commit; 401 wrong secret; 400 junk; 503 when the DB is down.

A button press in a private chat is answered in the 200 (answerCallbackQuery in the body) and
admitted as acknowledged; other updates get an empty 200.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.delivery.inbox import AdmissionBatcher
from core.geo import build_geocoder
from storage.db import create_engine, create_sessionmaker
from storage.models import InboxUpdate
from tests.keys import CHAT_KEY
from web.app import WebContext, create_app
from web.telegram import MAX_BODY, WebhookFirst

SECRET = "s" * 40
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def _context(engine, sessions, tmp_path: Path) -> WebContext:
    return WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="head",
        bot_mode="webhook",
        media_dir=tmp_path,
        secret=b"k" * 32,
        geocoder=build_geocoder(user_agent="t"),
        admission=AdmissionBatcher(sessions, chat_key=CHAT_KEY),
        webhook_secret=SECRET,
    )


@pytest.fixture(params=["app", "in front of the app"])
async def client(request, engine, sessions, tmp_path):
    """The webhook as routed by the app, and as `tipline run` serves it (WebhookFirst)."""
    context = _context(engine, sessions, tmp_path)
    app = create_app(context)
    served = WebhookFirst(app) if request.param == "in front of the app" else app
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    await context.admission.close()


def _update(update_id: int) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 7, "type": "private"},
            "text": "hello",
        },
    }


def _press(update_id: int, chat: dict | None, query_id: object = "q-1") -> dict:
    query: dict = {"id": query_id, "from": {"id": 7, "is_bot": False, "first_name": "A"}}
    query |= {"chat_instance": "1", "data": "menu:report"}
    if chat is not None:
        query["message"] = {"message_id": 3, "date": 0, "chat": chat}
    return {"update_id": update_id, "callback_query": query}


async def _acknowledged(sessions) -> dict[int, bool]:
    async with sessions() as session:
        rows = await session.execute(select(InboxUpdate.update_id, InboxUpdate.acknowledged))
        return {update_id: acknowledged for update_id, acknowledged in rows.all()}


async def test_a_private_press_is_answered_in_the_200_and_admitted_as_acknowledged(
    client, sessions
):
    response = await client.post(
        "/telegram/webhook", json=_press(21, {"id": 7, "type": "private"}), headers=HEADERS
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "q-1"}
    assert await _acknowledged(sessions) == {21: True}
    again = await client.post(
        "/telegram/webhook", json=_press(21, {"id": 7, "type": "private"}), headers=HEADERS
    )
    assert again.status_code == 200 and again.json() == response.json()
    assert await _acknowledged(sessions) == {21: True}


@pytest.mark.parametrize(
    "update",
    [
        _update(22),
        _press(22, {"id": -100, "type": "supergroup"}),  # moderators answer with a text
        _press(22, {"id": -100, "type": "group"}),
        _press(22, None),  # a press on an inline message: no chat
        _press(22, {"id": 7}),
        _press(22, {"id": 7, "type": "private"}, query_id=5),
        {"update_id": 22, "callback_query": "not an object"},
        {"update_id": 22, "callback_query": {"id": "q", "message": ["x"]}},
    ],
)
async def test_anything_but_a_private_press_gets_an_empty_200(client, sessions, update):
    response = await client.post("/telegram/webhook", json=update, headers=HEADERS)
    assert response.status_code == 200 and response.content == b""
    assert await _acknowledged(sessions) == {22: False}


@pytest.mark.parametrize("chat", [True, "7", [7], {"id": "7"}, {"id": 2**64}, None])
async def test_an_update_with_any_chat_is_admitted(client, sessions, chat):
    update = _update(33)
    update["message"]["chat"] = chat
    for body in (update, _press(34, chat)):
        response = await client.post("/telegram/webhook", json=body, headers=HEADERS)
        assert response.status_code == 200
    assert set(await _acknowledged(sessions)) == {33, 34}


async def test_update_is_committed_before_200_and_admitted_once(client, sessions):
    first = await client.post("/telegram/webhook", json=_update(11), headers=HEADERS)
    assert first.status_code == 200
    async with sessions() as session:
        rows = (await session.scalars(select(InboxUpdate))).all()
    # The chat is kept as its keyed number, never as the chat id.
    assert [(r.update_id, r.chat_id, r.status) for r in rows] == [(11, CHAT_KEY(7), "pending")]
    again = await client.post("/telegram/webhook", json=_update(11), headers=HEADERS)
    assert again.status_code == 200
    async with sessions() as session:
        assert len((await session.scalars(select(InboxUpdate))).all()) == 1


async def test_concurrent_updates_share_commits_and_all_land(client, sessions):
    results = await asyncio.gather(
        *(
            client.post("/telegram/webhook", json=_update(100 + i), headers=HEADERS)
            for i in range(200)
        )
    )
    assert {r.status_code for r in results} == {200}
    async with sessions() as session:
        ids = (await session.scalars(select(InboxUpdate.update_id))).all()
    assert sorted(ids) == list(range(100, 300))


async def test_an_update_that_cannot_be_written_fails_only_itself_not_its_batch(sessions):
    """One update the database refuses, committed in a batch with others: the batch is
    committed again one by one, so only that update is refused (Telegram delivers it again)."""

    def chat_key(chat: int) -> int:
        if chat == 13:
            raise ValueError("a chat this test cannot key")
        return CHAT_KEY(chat)

    admission = AdmissionBatcher(sessions, chat_key=chat_key, max_delay=0.05)
    updates = [_update(400 + i) for i in range(6)]
    updates[3]["message"]["chat"]["id"] = 13
    outcomes = await asyncio.gather(
        *(admission.admit(update) for update in updates), return_exceptions=True
    )
    await admission.close()
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType", "NoneType", "NoneType", "ValueError", "NoneType", "NoneType"
    ]  # fmt: skip
    async with sessions() as session:
        ids = (await session.scalars(select(InboxUpdate.update_id))).all()
    assert sorted(ids) == [400, 401, 402, 404, 405]


@pytest.mark.parametrize("secret", ["", "wrong", SECRET[:-1], SECRET + "x"])
async def test_wrong_secret_is_401_and_nothing_stored(client, sessions, secret):
    response = await client.post(
        "/telegram/webhook", json=_update(1), headers={"X-Telegram-Bot-Api-Secret-Token": secret}
    )
    assert response.status_code == 401
    async with sessions() as session:
        assert (await session.scalars(select(InboxUpdate))).all() == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1,2]",
        b'{"update_id": "7"}',
        b'{"update_id": -1}',
        b'{"update_id": 9223372036854775808}',  # 2**63: no database integer holds it
        b"\xff\xfe",
    ],
)
async def test_malformed_body_is_400(client, body):
    response = await client.post("/telegram/webhook", content=body, headers=HEADERS)
    assert response.status_code == 400


async def test_body_over_the_limit_is_413_and_nothing_stored(client, sessions):
    body = b'{"update_id": 3, "pad": "' + b"x" * MAX_BODY + b'"}'
    response = await client.post("/telegram/webhook", content=body, headers=HEADERS)
    assert response.status_code == 413
    async with sessions() as session:
        assert (await session.scalars(select(InboxUpdate))).all() == []


async def test_other_requests_still_reach_the_app(client):
    landing = await client.get("/")
    assert landing.status_code == 200 and "content-security-policy" in landing.headers
    wrong_method = await client.get("/telegram/webhook")
    assert wrong_method.status_code == 405


async def test_database_down_is_503_so_telegram_retries(tmp_path):
    engine = create_engine("postgresql+asyncpg://root@127.0.0.1:1/none")
    sessions = create_sessionmaker(engine)
    context = _context(engine, sessions, tmp_path)
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/telegram/webhook", json=_update(5), headers=HEADERS)
        press = _press(6, {"id": 7, "type": "private"})
        unanswered = await client.post("/telegram/webhook", json=press, headers=HEADERS)
        health = await client.get("/healthz")
    assert response.status_code == 503
    assert unanswered.status_code == 503 and unanswered.content == b""
    assert health.status_code == 503
    await context.admission.close()
    await engine.dispose()
