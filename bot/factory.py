"""Bot and Dispatcher factories."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiogram import BaseMiddleware, Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import Response, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, TelegramObject
from aiohttp import FormData
from aiohttp.payload import BytesPayload

from bot.middlewares import ContextMiddleware
from handlers.context import BotServices
from handlers.turn import answered_at_admission

_MARKUP = {"reply_markup"}


class PinnedResponsesSession(AiohttpSession):
    """aiogram's HTTP session, made cheaper per call.

    aiogram builds `Response[<result type>]` on every call; pydantic caches that class only
    weakly, so after each garbage collection it was rebuilt (~5 ms, a third of the CPU of a
    conversation step under load). One strong reference per result type ends that. And a call
    without files is sent as the same urlencoded form aiohttp would build, without building a
    multipart writer first, with an inline keyboard serialised by pydantic in one call.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._responses: dict[Any, Any] = {}

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        """The urlencoded body of a call without files (aiogram's own form for one with files)."""
        files: dict[str, Any] = {}
        fields = []
        markup = getattr(method, "reply_markup", None)
        inline = isinstance(markup, InlineKeyboardMarkup)
        for key, value in method.model_dump(
            warnings=False, exclude=_MARKUP if inline else None
        ).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                fields.append((key, prepared))
        if files:
            return super().build_form_data(bot, method)
        if inline:
            # pydantic's own JSON of the keyboard: what aiogram's field-by-field walk produces
            # (no None fields), a tenth of its cost.
            fields.append(("reply_markup", markup.model_dump_json(exclude_none=True)))
        body = urlencode(fields, doseq=True).encode()
        # aiohttp takes a ready payload wherever it takes a form.
        return BytesPayload(body, content_type="application/x-www-form-urlencoded")  # type: ignore[return-value]

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        """Pin the response model of this method's result type, then check as aiogram does."""
        returning = method.__returning__
        if returning not in self._responses:
            self._responses[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)


class Acknowledged(BaseMiddleware):
    """A button press the webhook answered in its response is not answered again.

    The processor feeds each update with `acknowledged` (from the inbox row); this hands it to
    handlers.turn.acknowledge, which some twenty button handlers call, through a context variable
    rather than a parameter of every one of them.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Run the handler with answered_at_admission set for this update only."""
        token = answered_at_admission.set(bool(data.get("acknowledged")))
        try:
            return await handler(event, data)
        finally:
            answered_at_admission.reset(token)


def create_bot(*, token: str, api_base: str, timeout: float = 30) -> Bot:
    """A Bot talking to the given Bot API server (Telegram's, or a fake in tests)."""
    session = PinnedResponsesSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout)
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


def create_dispatcher(
    *, storage: BaseStorage, services: BotServices, routers: list[Router]
) -> Dispatcher:
    """A Dispatcher with Tipline's middlewares and routers."""
    # aiogram logs every update at INFO; that is noise (and a cost) at our volumes.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    dispatcher = Dispatcher(storage=storage)
    dispatcher.update.outer_middleware(ContextMiddleware(services))
    dispatcher.callback_query.outer_middleware(Acknowledged())
    if routers:
        dispatcher.include_routers(*routers)
    return dispatcher
