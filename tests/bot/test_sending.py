"""send_text: the message goes out as sendMessage would send it; errors are aiogram's own."""

from __future__ import annotations

import json

import pytest
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.factory import create_bot
from handlers.telegram.channel import send_text

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Now", callback_data="pick:when:now")]]
)


async def test_a_text_goes_out_with_its_buttons_and_the_answer_is_telegrams_json(fake):
    bot = create_bot(token=fake.token, api_base=fake.base_url)
    try:
        answer = await send_text(bot, 77, "When did you see this?", KEYBOARD)
    finally:
        await bot.session.close()
    [call] = fake.calls(chat_id=77)
    assert call.method == "sendMessage"
    assert call.params["text"] == "When did you see this?"
    markup = call.params["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["inline_keyboard"][0][0]["callback_data"] == "pick:when:now"
    assert answer["message_id"] == call.result["message_id"]
    assert answer["chat"]["id"] == 77


async def test_telegrams_refusals_raise_aiograms_errors(fake):
    bot = create_bot(token=fake.token, api_base=fake.base_url)
    try:
        fake.fail_next("sendMessage", status=403, description="Forbidden: bot was blocked")
        with pytest.raises(TelegramForbiddenError):
            await send_text(bot, 78, "hello")
        fake.fail_next("sendMessage", status=429, retry_after=3)
        with pytest.raises(TelegramRetryAfter) as caught:
            await send_text(bot, 78, "hello")
        assert caught.value.retry_after == 3
    finally:
        await bot.session.close()
