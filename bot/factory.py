"""Bot and Dispatcher factories."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import Response, TelegramMethod
from aiogram.types import InlineKeyboardMarkup
from aiohttp import FormData
from aiohttp.payload import BytesPayload
from pydantic import ValidationError

from bot.fsm import SqlStorage, StateCache
from bot.middlewares import ContextMiddleware
from bot.tipsters import TipsterCache
from handlers.context import BotServices

_MARKUP = {"reply_markup"}


class PinnedResponsesSession(AiohttpSession):
    """aiogram's HTTP session, made cheaper per call.

    aiogram builds `Response[<result type>]` on every call; pydantic caches that class only
    weakly, so after each garbage collection it was rebuilt (~5 ms, a third of the CPU of a
    conversation step under load). One strong reference per result type ends that. And a call
    without files is sent as a JSON body (the Bot API takes JSON for anything but uploads) with
    the values aiogram would send, without the multipart writer aiohttp would build first or
    urlencoding's slow quoting, and with an inline keyboard serialised by pydantic in one call.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._responses: dict[Any, Any] = {}

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        """The JSON body of a call without files (aiogram's own multipart form for one with)."""
        files: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        markup = getattr(method, "reply_markup", None)
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        dumped = method.model_dump(
            warnings=False, exclude_none=True, exclude=_MARKUP if keyboard else None
        )
        for key, value in dumped.items():
            # Nested values as aiogram prepares them inside a field; in JSON the field needs no
            # quoting as a string of its own. aiogram drops empty strings and None.
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":
                fields[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        if keyboard is not None:
            # pydantic's own JSON of the keyboard: what aiogram's field-by-field walk produces
            # (no None fields), a tenth of its cost.
            spliced = f'"reply_markup":{keyboard.model_dump_json(exclude_none=True)}}}'
            body = f"{body[:-1]},{spliced}" if fields else "{" + spliced
        # aiohttp takes a ready payload wherever it takes a form.
        payload = BytesPayload(body.encode(), content_type="application/json")
        return payload  # type: ignore[return-value]

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        """A successful answer validated from its JSON text; anything else as aiogram checks it.

        Straight from the text, pydantic builds no intermediate dicts of its own: the same
        objects, ~2 us (3%) cheaper per sendMessage answer. (Most of the rest is aiogram's
        per-object hooks: `remove_unset` and binding `_bot`.) Errors, and anything the JSON
        path refuses, go through aiogram, so its exceptions are raised exactly as before.
        """
        returning = method.__returning__
        response_type = self._responses.get(returning)
        if response_type is None:
            response_type = self._responses[returning] = Response[returning]  # type: ignore[valid-type]
        if HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            try:
                response = response_type.model_validate_json(content, context={"bot": bot})
            except ValidationError:
                response = None
            if response is not None and response.ok:
                # A string: `Response[Any]` evaluated here is a pydantic generic, cached weakly
                # and rebuilt (~2.5 ms) after garbage collections.
                return cast("Response[Any]", response)
        return super().check_response(bot, method, status_code, content)


def create_bot(*, token: str, api_base: str, timeout: float = 30) -> Bot:
    """A Bot talking to the given Bot API server (Telegram's, or a fake in tests)."""
    session = PinnedResponsesSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout)
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def caches_of(dispatcher: Dispatcher) -> list[StateCache | TipsterCache]:
    """The caches of what the inbox processor alone writes: conversation states (the database
    storage's; Redis has none) and tipsters."""
    caches: list[StateCache | TipsterCache] = []
    if isinstance(dispatcher.storage, SqlStorage):
        caches.append(dispatcher.storage.cache)
    for middleware in dispatcher.update.outer_middleware:
        if isinstance(middleware, ContextMiddleware):
            caches.append(middleware.tipsters)
    return caches


def create_dispatcher(
    *, storage: BaseStorage, services: BotServices, routers: list[Router]
) -> Dispatcher:
    """A Dispatcher with Tipline's middlewares and routers."""
    # aiogram logs every update at INFO; that is noise (and a cost) at our volumes.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    dispatcher = Dispatcher(storage=storage)
    dispatcher.update.outer_middleware(ContextMiddleware(services))
    if routers:
        dispatcher.include_routers(*routers)
    return dispatcher
