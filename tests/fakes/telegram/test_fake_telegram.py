"""The fake Bot API server, driven by the real aiogram Bot over HTTP."""

import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
)
from aiohttp import web
from PIL import Image

from tests.fakes.telegram.limits import RateLimits
from tests.fakes.telegram.server import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.telegram.webhook import RetryPolicy

PRIVATE, GROUP, SUPERGROUP = 4242, -4242, -1001234567890


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(webhook_retry=RetryPolicy(initial_delay=0.01, max_delay=0.05)) as f:
        yield f


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = fake.bot()
    yield bot
    await bot.session.close()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "JPEG")
    return buffer.getvalue()


def keyboard(data: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text="ok", callback_data=data)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


# --- identity, recording, message shape --------------------------------------------------------


async def test_get_me_answers_with_the_bot_behind_the_token(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(DEFAULT_TOKEN.split(":")[0])
    assert me.is_bot and me.username == "tipline_test_bot"


async def test_sent_message_is_recorded_with_json_fields_decoded(
    fake: FakeTelegram, bot: Bot
) -> None:
    await bot.send_message(PRIVATE, "Thank you", reply_markup=keyboard("tip:1:ok"))
    [call] = fake.calls("sendMessage", chat_id=PRIVATE)
    assert call.params["chat_id"] == PRIVATE
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "tip:1:ok"
    assert fake.sent_texts(PRIVATE) == ["Thank you"]
    assert fake.calls("sendMessage", chat_id=GROUP) == []


async def test_message_ids_count_per_chat_and_chat_type_follows_id_sign(bot: Bot) -> None:
    first, second = await bot.send_message(PRIVATE, "a"), await bot.send_message(PRIVATE, "b")
    group = await bot.send_message(GROUP, "c")
    supergroup = await bot.send_message(SUPERGROUP, "d")
    assert (first.message_id, second.message_id, group.message_id) == (1, 2, 1)
    assert [m.chat.type for m in (first, group, supergroup)] == ["private", "group", "supergroup"]
    assert first.from_user is not None and first.from_user.is_bot


async def test_numeric_looking_text_stays_text(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(PRIVATE, "123")
    assert fake.sent_texts(PRIVATE) == ["123"]


# --- Telegram's limits ------------------------------------------------------------------------


async def test_text_over_4096_characters_is_too_long(bot: Bot) -> None:
    await bot.send_message(PRIVATE, "x" * 4096)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(PRIVATE, "x" * 4097)


async def test_blank_text_is_empty(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(PRIVATE, "   ")


async def test_unescaped_html_fails_like_telegram(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "3"'):
        await bot.send_message(PRIVATE, "I <3 you", parse_mode="HTML")
    sent = await bot.send_message(PRIVATE, "I &lt;3 <b>you</b>", parse_mode="HTML")
    assert sent.text == "I <3 you"


async def test_callback_data_over_64_bytes_is_button_data_invalid(bot: Bot) -> None:
    await bot.send_message(PRIVATE, "ok", reply_markup=keyboard("é" * 32))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(PRIVATE, "no", reply_markup=keyboard("é" * 32 + "x"))


async def test_caption_over_1024_characters_is_too_long(bot: Bot) -> None:
    photo = BufferedInputFile(jpeg(), "p.jpg")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(PRIVATE, photo, caption="c" * 1025)


async def test_media_group_takes_two_to_ten_items(fake: FakeTelegram, bot: Bot) -> None:
    def album(n: int) -> list[InputMediaPhoto]:
        return [InputMediaPhoto(media=BufferedInputFile(jpeg(), f"{i}.jpg")) for i in range(n)]

    for size in (1, 11):
        with pytest.raises(TelegramBadRequest):
            await bot.send_media_group(PRIVATE, album(size))
    messages = await bot.send_media_group(PRIVATE, album(3))
    assert len({m.media_group_id for m in messages}) == 1 and len(messages) == 3
    assert len(fake.uploads(PRIVATE)) == 3


async def test_get_file_refuses_files_over_20_mb(fake: FakeTelegram, bot: Bot) -> None:
    update = fake.document_message(PRIVATE, b"tiny", file_size=20 * 1024 * 1024 + 1)
    with pytest.raises(TelegramBadRequest, match="Bad Request: file is too big"):
        await bot.get_file(update["message"]["document"]["file_id"])


# --- flood control ----------------------------------------------------------------------------


async def test_flooding_one_chat_gets_429_with_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    for _ in range(RateLimits().per_chat_burst):
        await bot.send_message(PRIVATE, "burst")
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(PRIVATE, "one too many")
    assert raised.value.retry_after >= 1
    assert fake.stats()["status_429"] == 1 and fake.stats()["rate_limited_by"] == {"chat": 1}
    await bot.send_message(PRIVATE + 1, "another chat is not limited")


async def test_group_gets_twenty_messages_a_minute() -> None:
    now = [0.0]
    limits = RateLimits(per_chat_per_second=100, per_chat_burst=100)
    async with FakeTelegram(rate_limits=limits, clock=lambda: now[0]) as fake:
        bot = fake.bot()
        for _ in range(20):
            await bot.send_message(GROUP, "x")
        with pytest.raises(TelegramRetryAfter) as raised:
            await bot.send_message(GROUP, "x")
        assert raised.value.retry_after == 3
        now[0] += 3
        await bot.send_message(GROUP, "x")
        await bot.session.close()


async def test_rate_limiting_can_be_switched_off(fake: FakeTelegram, bot: Bot) -> None:
    fake.rate_limit_enabled = False
    for _ in range(50):
        await bot.send_message(PRIVATE, "x")
    assert fake.stats()["status_429"] == 0


# --- fault injection ----------------------------------------------------------------------------


async def test_injected_500_raises_server_error_once(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(PRIVATE, "x")
    await bot.send_message(PRIVATE, "x")
    assert [c.status for c in fake.calls("sendMessage")] == [500, 200]


async def test_blocked_and_deleted_chats_answer_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    fake.block_chat(PRIVATE)
    fake.delete_chat(GROUP)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(PRIVATE, "x")
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(GROUP, "x")


async def test_hang_longer_than_the_client_timeout(fake: FakeTelegram, bot: Bot) -> None:
    fake.timeout_next("sendMessage", 5, delivered=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(PRIVATE, "lost answer", request_timeout=1)
    assert fake.sent_texts(PRIVATE) == []  # calls are recorded once answered; this one is not yet
    assert [m["text"] for m in fake.sent_messages(PRIVATE)] == ["lost answer"]


async def test_unknown_method_and_wrong_token(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.base_url}/bot{DEFAULT_TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{fake.base_url}/bot1:wrong/getMe") as response:
            assert response.status == 401


# --- updates ------------------------------------------------------------------------------------


async def test_get_updates_offset_confirms_older_updates(fake: FakeTelegram, bot: Bot) -> None:
    ids = [fake.push_update(fake.text_message(PRIVATE, f"m{i}")) for i in range(3)]
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]
    assert [u.update_id for u in await bot.get_updates(limit=1)] == ids[1:2]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[2:]
    assert await bot.get_updates(offset=ids[2] + 1) == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    asyncio.get_running_loop().call_later(0.2, fake.push_update, fake.text_message(PRIVATE, "hi"))
    # A poll that waited out its 60 s would miss this deadline by far.
    updates = await asyncio.wait_for(bot.get_updates(timeout=60), timeout=15)
    assert len(updates) == 1


async def test_allowed_updates_stops_other_kinds(fake: FakeTelegram, bot: Bot) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    fake.push_update(fake.text_message(PRIVATE, "ignored"))
    fake.push_update(fake.callback_query(PRIVATE, 1, "press"))
    [update] = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.data == "press"


async def test_a_second_poller_ends_the_first_with_conflict(bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first
    assert await second == []


async def test_every_builder_makes_an_update_aiogram_understands(fake: FakeTelegram) -> None:
    fake.register_chat(-100777, type="channel", title="News")
    sent = fake.text_message(PRIVATE, "original")["message"]["message_id"]
    builders = {
        "message": fake.text_message(GROUP, "in a group"),
        "callback_query": fake.callback_query(PRIVATE, sent, "tip:1"),
        "edited_message": fake.edited_message(PRIVATE, sent, "edited"),
        "channel_post": fake.channel_post(-100777, "post"),
        "my_chat_member": fake.my_chat_member(PRIVATE),
    }
    media = [
        fake.photo_message(PRIVATE, jpeg(), caption="seen", media_group_id="1"),
        fake.document_message(PRIVATE),
        fake.location_message(PRIVATE, 51.5, -0.12, live_period=60),
        fake.venue_message(PRIVATE, 51.5, -0.12, "Station", "King's Cross"),
        fake.contact_message(PRIVATE, "+441234", "Ann"),
        fake.voice_message(PRIVATE),
        fake.sticker_message(PRIVATE),
    ]
    for kind, raw in builders.items():
        assert Update.model_validate(raw).event_type == kind
    parsed = [Update.model_validate(raw).message for raw in media]
    assert all(isinstance(message, Message) for message in parsed)
    unknown = Update.model_validate(fake.update_of_unknown_type())
    assert unknown.message is None and unknown.update_id > 0


async def test_deep_link_start_reaches_the_command_start_handler(
    fake: FakeTelegram, bot: Bot
) -> None:
    dp, seen = Dispatcher(), []

    @dp.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        seen.append(command.args)
        await message.answer("welcome")

    update = Update.model_validate(fake.command(PRIVATE, "start", "case-42"), context={"bot": bot})
    await dp.feed_update(bot, update)
    assert seen == ["case-42"]
    assert fake.sent_texts(PRIVATE) == ["welcome"]


# --- files -----------------------------------------------------------------------------------


async def test_bot_upload_keeps_exact_bytes_and_downloads_back(
    fake: FakeTelegram, bot: Bot
) -> None:
    data = jpeg(800, 600)
    sent = await bot.send_photo(PRIVATE, BufferedInputFile(data, "clean.jpg"))
    [upload] = fake.uploads(PRIVATE)
    assert upload.data == data and upload.filename == "clean.jpg"
    assert sent.photo is not None and (sent.photo[-1].width, sent.photo[-1].height) == (800, 600)
    downloaded = await bot.download(sent.photo[-1].file_id)
    assert downloaded is not None and downloaded.read() == data


async def test_user_document_downloads_through_get_file(fake: FakeTelegram, bot: Bot) -> None:
    update = fake.document_message(PRIVATE, b"%PDF evidence", file_name="tip.pdf")
    file = await bot.get_file(update["message"]["document"]["file_id"])
    assert file.file_path is not None and file.file_path.endswith(".pdf")
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"%PDF evidence"


async def test_undecodable_photo_upload_is_refused(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(PRIVATE, BufferedInputFile(b"not an image", "x.jpg"))


# --- messages the bot changes ------------------------------------------------------------------


async def test_edits_follow_telegrams_rules(bot: Bot) -> None:
    sent = await bot.send_message(PRIVATE, "pending", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text("approved", chat_id=PRIVATE, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "approved"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("approved", chat_id=PRIVATE, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=PRIVATE, message_id=999)
    assert await bot.delete_message(PRIVATE, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(PRIVATE, sent.message_id)


async def test_callback_query_is_answered_once(fake: FakeTelegram, bot: Bot) -> None:
    query = fake.callback_query(PRIVATE, 1, "tip:1")["callback_query"]
    assert await bot.answer_callback_query(query["id"], text="Noted")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query["id"])


async def test_tip_photo_is_copied_and_forwarded_to_moderators(
    fake: FakeTelegram, bot: Bot
) -> None:
    tip = fake.photo_message(PRIVATE, jpeg(), caption="near the station")["message"]
    copied = await bot.copy_message(SUPERGROUP, PRIVATE, tip["message_id"], caption="Tip #1")
    forwarded = await bot.forward_message(SUPERGROUP, PRIVATE, tip["message_id"])
    [copy, _] = fake.sent_messages(SUPERGROUP)
    assert copy["message_id"] == copied.message_id and copy["caption"] == "Tip #1"
    assert forwarded.forward_origin is not None and forwarded.photo is not None
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(SUPERGROUP, PRIVATE, 999)


# --- webhook ----------------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict, str | None]], list[int]]]:
    """A tiny webhook endpoint; answers with the statuses queued in `answers`, then 200."""
    received: list[tuple[dict, str | None]] = []
    answers: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received, answers
    await runner.cleanup()


async def test_webhook_delivery_carries_the_secret_header(
    fake: FakeTelegram, bot: Bot, receiver: tuple[str, list, list]
) -> None:
    url, received, _ = receiver
    await bot.set_webhook(url, secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == url and fake.webhook is not None and fake.webhook.secret_token == "s3cret"
    status = await fake.deliver(fake.text_message(PRIVATE, "hi"))
    assert status == 200
    assert received[0][1] == "s3cret" and received[0][0]["message"]["text"] == "hi"
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()


async def test_queued_updates_are_retried_until_the_webhook_accepts(
    fake: FakeTelegram, bot: Bot, receiver: tuple[str, list, list]
) -> None:
    url, received, answers = receiver
    answers.extend([503, 500])
    await bot.set_webhook(url)
    update_id = fake.push_update(fake.text_message(PRIVATE, "retry me"))
    for _ in range(100):
        if fake.stats()["pending_updates"] == 0:
            break
        await asyncio.sleep(0.02)
    assert [body["update_id"] for body, _ in received] == [update_id] * 3
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_a_method_in_the_webhooks_answer_is_run_and_recorded(
    fake: FakeTelegram, bot: Bot
) -> None:
    press = fake.callback_query(PRIVATE, 1, "menu")
    bodies = [
        {"method": "answerCallbackQuery", "callback_query_id": press["callback_query"]["id"]},
        {"method": "sendMessage", "chat_id": PRIVATE, "text": "from the answer"},
        {"ok": True},  # no method: nothing to run
    ]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(bodies.pop(0))

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        for update in (press, fake.text_message(PRIVATE, "hi"), fake.text_message(PRIVATE, "x")):
            assert await fake.deliver(update) == 200
    finally:
        await runner.cleanup()
    [answer] = fake.calls("answerCallbackQuery")
    assert answer.ok and fake.state.callback_queries[press["callback_query"]["id"]] is True
    assert fake.sent_texts(PRIVATE) == ["from the answer"]
    assert [c.method for c in fake.calls()][-2:] == ["answerCallbackQuery", "sendMessage"]


# --- control API and standalone process --------------------------------------------------------


async def test_control_api_pushes_updates_and_injects_faults(fake: FakeTelegram, bot: Bot) -> None:
    async with aiohttp.ClientSession(base_url=fake.base_url) as http:
        body = {"chat_id": PRIVATE, "text": "from another process"}
        async with http.post("/_control/build/text_message", json=body) as response:
            assert response.status == 200
        await http.post("/_control/fail_next", json={"method": "sendMessage", "status": 502})
        [update] = await bot.get_updates()
        assert update.message is not None and update.message.text == "from another process"
        with pytest.raises(TelegramServerError):
            await bot.send_message(PRIVATE, "x")
        async with http.get("/_control/stats") as response:
            stats = await response.json()
        assert stats["injected_faults"] == 1 and stats["by_method"]["getUpdates"] == 1


async def test_reset_forgets_calls_and_faults(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(PRIVATE, "x")
    fake.fail_next("sendMessage")
    fake.block_chat(PRIVATE)
    fake.reset()
    await bot.send_message(PRIVATE, "y")
    assert fake.sent_texts(PRIVATE) == ["y"] and fake.stats()["calls"] == 1


async def test_standalone_process_serves_a_bot() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram.server",
        "--port",
        "0",
        "--no-rate-limit",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        base_url = json.loads(line)["base_url"]
        async with aiohttp.ClientSession(base_url=base_url) as http:
            update = {"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
            await http.post("/_control/push_update", json={"update": update})
            async with http.post(f"/bot{DEFAULT_TOKEN}/getUpdates") as response:
                answer = await response.json()
        assert answer["ok"] and answer["result"][0]["update_id"] == 1
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
