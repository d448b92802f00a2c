"""Tipline's Bot API session sends the same fields as aiogram's own, more cheaply.

Ours is a JSON body (calls without files); aiogram's a form whose non-string fields are JSON
texts. Compared as Telegram reads them: the same names and the same values. Answers are parsed
into the same objects, and failures raise the same exceptions.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetUpdates, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyKeyboardRemove,
    ReplyParameters,
    TelegramObject,
)
from aiohttp import FormData
from pydantic import BaseModel

from bot.factory import create_bot
from core.i18n import Texts
from handlers.telegram.keyboards import Nav, Pick, button, main_menu, markup

TEXTS = Texts("zh-Hans")


def _ours(method: Any) -> dict[str, Any]:
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    payload = bot.session.build_form_data(bot, method)
    assert payload.content_type == "application/json"  # type: ignore[attr-defined]
    return json.loads(payload._value.decode())  # type: ignore[attr-defined,no-any-return]


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
    main_menu(TEXTS),
    markup(
        [
            button("现在", Pick(step="when", value="now")),
            button("x" * 80, Pick(step="w", value="1")),
        ],
        [
            button(TEXTS(f"button.{action}"), Nav(step="when", action=action))
            for action in ("back", "skip", "cancel")
        ],
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


def test_a_call_with_a_file_is_aiograms_own_multipart_form():
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    photo = SendPhoto(chat_id=7, photo=BufferedInputFile(b"jpeg", "a.jpg"), caption="c")
    form = bot.session.build_form_data(bot, photo)
    assert isinstance(form, FormData)
    names = [field[0]["name"] for field in form._fields]
    assert names[:2] == ["chat_id", "photo"] and "caption" in names


# --- answers -------------------------------------------------------------------------------------

BOT = create_bot(token="123:abc", api_base="http://127.0.0.1:1")


async def _raw_answer(fake: Any, method: str, params: dict[str, Any]) -> tuple[int, str]:
    """A fake Bot API answer exactly as it came over HTTP."""
    url = f"{fake.base_url}/bot{fake.token}/{method}"
    async with aiohttp.ClientSession() as http, http.post(url, json=params) as response:
        return response.status, await response.text()


def _tree(obj: Any) -> list[tuple[str, bool]]:
    """Each model's class in a result, and whether it is bound to BOT (as aiogram binds it)."""
    if isinstance(obj, BaseModel):
        own = [(type(obj).__name__, obj.bot is BOT)] if isinstance(obj, TelegramObject) else []
        return own + [item for name in type(obj).model_fields for item in _tree(getattr(obj, name))]
    if isinstance(obj, (list, tuple)):
        return [item for x in obj for item in _tree(x)]
    return []


async def test_answers_are_the_same_objects_aiogram_builds(fake):
    fake.register_chat(7, type="private", first_name="Ann")
    keyboard = json.loads(KEYBOARDS[1].model_dump_json(exclude_none=True))
    press = fake.callback_query(7, 999, "x")  # on a message Telegram no longer has
    fake.push_update(press)
    fake.push_update(fake.photo_message(7, b"\xff\xd8 not really a jpeg"))
    cases = [
        (
            SendMessage(chat_id=7, text="t"),
            "sendMessage",
            {"chat_id": 7, "text": "你好 🙂", "reply_markup": keyboard},
        ),
        (
            AnswerCallbackQuery(callback_query_id="q"),
            "answerCallbackQuery",
            {"callback_query_id": press["callback_query"]["id"]},
        ),
        (GetUpdates(), "getUpdates", {"timeout": 0}),
    ]
    for method, name, params in cases:
        status, content = await _raw_answer(fake, name, params)
        assert status == 200
        ours = BOT.session.check_response(BOT, method, status, content)
        theirs = AiohttpSession().check_response(BOT, method, status, content)
        assert ours.model_dump() == theirs.model_dump()
        assert _tree(ours.result) == _tree(theirs.result)
        assert all(bound for _, bound in _tree(ours.result))
    assert ("InaccessibleMessage", True) in _tree(ours.result)


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (
            429,
            '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3",'
            '"parameters":{"retry_after":3}}',
            TelegramRetryAfter,
        ),
        (
            400,
            '{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}',
            TelegramBadRequest,
        ),
        (
            403,
            '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}',
            TelegramForbiddenError,
        ),
        (502, "<html>Bad Gateway</html>", ClientDecodeError),
        (200, '{"ok":false,"error_code":400,"description":"odd"}', TelegramAPIError),
        (200, '{"ok":true,"result":"not a message"}', ClientDecodeError),
        (200, "not json", ClientDecodeError),
    ],
)
def test_failures_raise_what_aiogram_raises(status, content, error):
    method = SendMessage(chat_id=7, text="t")
    with pytest.raises(error) as ours:
        BOT.session.check_response(BOT, method, status, content)
    with pytest.raises(error) as theirs:
        AiohttpSession().check_response(BOT, method, status, content)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    assert getattr(ours.value, "retry_after", None) == getattr(theirs.value, "retry_after", None)
