"""Tipline's Bot API session sends the same fields as aiogram's own, more cheaply."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove

from bot.factory import create_bot
from core.i18n import Texts
from handlers.keyboards import Pick, button, main_menu, markup, nav_row

TEXTS = Texts("zh-Hans")


def _ours(method: Any) -> dict[str, Any]:
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    payload = bot.session.build_form_data(bot, method)
    return _decode(dict(parse_qsl(payload._value.decode())))  # type: ignore[attr-defined]


def _aiogram(method: Any) -> dict[str, Any]:
    bot = create_bot(token="123:abc", api_base="http://127.0.0.1:1")
    session = AiohttpSession()
    form = session.build_form_data(bot, method)
    return _decode({field[0]["name"]: field[2] for field in form._fields})


def _decode(fields: dict[str, Any]) -> dict[str, Any]:
    markup_ = fields.get("reply_markup")
    if markup_ is not None:
        fields["reply_markup"] = json.loads(markup_)
    return fields


KEYBOARDS = [
    main_menu(TEXTS),
    markup(
        [
            button("现在", Pick(step="when", value="now")),
            button("x" * 80, Pick(step="w", value="1")),
        ],
        nav_row(TEXTS, "when", skip="button.skip"),
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
    ):
        assert _ours(method) == _aiogram(method)
