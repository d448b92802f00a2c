"""Bot and Dispatcher factories."""

from __future__ import annotations

import json
import logging
from enum import Enum
from typing import Any, cast

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup
from aiohttp import ClientError

from bot.fsm import SqlStorage, StateCache
from bot.middlewares import ContextMiddleware
from bot.tipsters import TipsterCache
from handlers.context import BotServices

JSON = {"Content-Type": "application/json"}


class JsonBodySession(AiohttpSession):
    """aiogram's HTTP session, sending a call without files as a JSON body.

    The Bot API takes JSON for anything but uploads: the values aiogram would send, without the
    form aiohttp would encode first (urlencoding's slow quoting), and an inline keyboard dumped
    by pydantic in one call. Worth about a sixth of `tipline run`'s CPU per conversation update
    (bench/README.md). `make_request` is the method aiogram documents for a session of one's own
    to implement (BaseSession); answers are checked by aiogram's own `check_response`.
    """

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
        """The call's fields as a JSON body; None when it uploads files (a multipart form)."""
        files: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        markup = getattr(method, "reply_markup", None)
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        dumped = method.model_dump(
            warnings=False, exclude_none=True, exclude={"reply_markup"} if keyboard else None
        )
        for key, item in dumped.items():
            value = bot.default[item.name] if isinstance(item, Default) else item
            value = value.value if isinstance(value, Enum) else value
            if value is None or value == "":  # aiogram sends neither
                continue
            if isinstance(value, str | int | float):  # bool too: JSON as they are
                fields[key] = value
                continue
            # Nested objects, dates, files: as aiogram prepares a form field (JSON text, or a
            # file's attach:// name); a call with files goes as aiogram's multipart form.
            prepared = self.prepare_value(value, bot=bot, files=files)
            if files:
                return None
            if prepared is not None and prepared != "":
                fields[key] = json.loads(prepared)
        if keyboard is not None:
            # pydantic's own dump of the keyboard: what aiogram's field-by-field walk produces
            # (no None fields), a tenth of its cost.
            fields["reply_markup"] = keyboard.model_dump(mode="json", exclude_none=True)
        return fields

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        """Send a call without files as JSON (one with files as aiogram's multipart form)."""
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            async with session.post(
                url, data=data, headers=JSON, timeout=self.timeout if timeout is None else timeout
            ) as response:
                content = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            message = f"{type(error).__name__}: {error}"
            raise TelegramNetworkError(method=method, message=message) from error
        answer = self.check_response(bot, method, response.status, content)
        return cast(TelegramType, answer.result)


def create_bot(*, token: str, api_base: str, timeout: float = 30) -> Bot:
    """A Bot talking to the given Bot API server (Telegram's, or a fake in tests)."""
    session = JsonBodySession(api=TelegramAPIServer.from_base(api_base), timeout=timeout)
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
