"""Bot and Dispatcher factories."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage

from bot.middlewares import ContextMiddleware
from handlers.context import BotServices


def create_bot(*, token: str, api_base: str, timeout: float = 30) -> Bot:
    """A Bot talking to the given Bot API server (Telegram's, or a fake in tests)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout)
    return Bot(token=token, session=session, default=DefaultBotProperties(parse_mode=None))


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
