"""Tipline's Bot API session sends the same fields as aiogram's own, more cheaply.

Ours is a JSON body (calls without files); aiogram's a form whose non-string fields are JSON
texts. Compared as Telegram reads them: the same names and the same values. Answers, over HTTP
from the fake Bot API, are the same objects, and failures raise the same exceptions.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from bot.factory import create_bot
from core.i18n import Texts
from handlers.engine.channel import button, keyboard
from handlers.telegram.channel import inline_markup
from handlers.tipster.start import main_menu
from tests.bot.fixtures import jpeg
from tests.processes import free_port

TEXTS = Texts("zh-Hans")


def _ours(method: Any) -> dict[str, Any]:
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    body = bot.session.json_body(bot, method)  # type: ignore[attr-defined]
    assert body is not None
    # Over the wire as JSON text (the session sends json.dumps of it).
    return json.loads(json.dumps(body))  # type: ignore[no-any-return]


def _aiogram(method: Any) -> dict[str, Any]:
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    form = AiohttpSession().build_form_data(bot, method)
    given = method.model_dump(warnings=False)
    # A string field is sent as it is; anything else as JSON text.
    return {
        name: value if isinstance(given[name], str) else json.loads(value)
        for (field, _, value) in form._fields
        for name in [field["name"]]
    }


KEYBOARDS = [
    inline_markup(main_menu(TEXTS)),
    inline_markup(
        keyboard(
            [button("现在", "p", "when", "now"), button("x" * 80, "p", "w", "1")],
            [
                button(TEXTS(f"button.{action}"), "n", "when", action)
                for action in ("back", "skip", "cancel")
            ],
        )
    ),
    InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="site", url="https://e.org")]]
    ),
    InlineKeyboardMarkup(inline_keyboard=[]),
]


@pytest.mark.parametrize("keyboard", KEYBOARDS)
def test_a_message_with_an_inline_keyboard_is_sent_as_aiogram_would(keyboard):
    send = SendMessage(chat_id=7, text="你好 & more", reply_markup=keyboard)
    edit = EditMessageText(chat_id=7, message_id=3, text="edited", reply_markup=keyboard)
    assert _ours(send) == _aiogram(send)
    assert _ours(edit) == _aiogram(edit)
    assert "inline_keyboard" in _ours(send)["reply_markup"]


def test_other_markups_and_none_are_sent_as_aiogram_would():
    for method in (
        SendMessage(chat_id=7, text="bye", reply_markup=ReplyKeyboardRemove()),
        SendMessage(chat_id=7, text="plain"),
        SendMessage(chat_id="@channel", text="7"),
    ):
        assert _ours(method) == _aiogram(method)


def test_false_zero_and_nested_objects_are_sent_and_empty_text_is_not():
    method = SendMessage(
        chat_id=7,
        text="hi",
        disable_notification=False,
        message_thread_id=0,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        reply_parameters=ReplyParameters(message_id=3),
    )
    ours = _ours(method)
    assert ours == _aiogram(method)
    assert ours["disable_notification"] is False and ours["message_thread_id"] == 0
    assert ours["link_preview_options"] == {"is_disabled": True}
    assert _ours(AnswerCallbackQuery(callback_query_id="q", text="")) == {"callback_query_id": "q"}
    assert _ours(AnswerCallbackQuery(callback_query_id="q")) == _aiogram(
        AnswerCallbackQuery(callback_query_id="q")
    )


async def test_a_call_with_a_file_is_aiograms_own_multipart_form(fake):
    fake.register_chat(7, type="private", first_name="Ann")
    bot = create_bot(token=fake.token, api_base=fake.base_url)
    picture = jpeg()
    photo = SendPhoto(chat_id=7, photo=BufferedInputFile(picture, "a.jpg"), caption="c")
    assert bot.session.json_body(bot, photo) is None  # type: ignore[attr-defined]
    try:
        await bot(photo)
        await bot(SendMessage(chat_id=7, text="你好", reply_markup=KEYBOARDS[1]))
    finally:
        await bot.session.close()
    [sent_photo] = fake.calls("sendPhoto")
    assert sent_photo.params["caption"] == "c"
    assert [upload.data for upload in sent_photo.files.values()] == [picture]
    [sent] = fake.calls("sendMessage")
    assert sent.files == {} and sent.params["text"] == "你好"
    assert sent.params["reply_markup"] == KEYBOARDS[1].model_dump(mode="json", exclude_none=True)


# --- answers -------------------------------------------------------------------------------------


def _bots(fake: Any) -> list[Bot]:
    """Ours, and a Bot on aiogram's stock session, both on the fake."""
    api = TelegramAPIServer.from_base(fake.base_url)
    return [
        create_bot(token=fake.token, api_base=fake.base_url),
        Bot(token=fake.token, session=AiohttpSession(api=api)),
    ]


async def test_answers_are_the_objects_aiogram_builds(fake):
    fake.register_chat(7, type="private", first_name="Ann")
    answers = []
    for bot in _bots(fake):
        try:
            sent = await bot.send_message(7, "你好 🙂", reply_markup=KEYBOARDS[1])
            answers.append(sent.model_dump(exclude={"message_id", "date"}))
        finally:
            await bot.session.close()
    ours, theirs = answers
    assert ours == theirs and ours["text"] == "你好 🙂"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 429, "retry_after": 3}, TelegramRetryAfter),
        ({"status": 400, "description": "Bad Request: message is too long"}, TelegramBadRequest),
        ({"status": 403}, TelegramForbiddenError),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, ClientDecodeError),
        ({"status": 500}, TelegramServerError),
    ],
)
async def test_failures_raise_what_aiogram_raises(fake, fault, error):
    fake.register_chat(7, type="private", first_name="Ann")
    raised = []
    for bot in _bots(fake):
        fake.fail_next("sendMessage", **fault)
        try:
            with pytest.raises(error) as caught:
                await bot.send_message(7, "t")
            raised.append(caught.value)
        finally:
            await bot.session.close()
    ours, theirs = raised
    assert type(ours) is type(theirs) and str(ours) == str(theirs)
    assert getattr(ours, "retry_after", None) == getattr(theirs, "retry_after", None)


async def test_an_unreachable_api_is_a_network_error():
    bot = create_bot(token="123:abc", api_base=f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(7, "t")
    finally:
        await bot.session.close()
