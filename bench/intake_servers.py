"""Servers for bench/intake.py: a bare aiogram echo bot, and Tipline's admission alone.

python bench/intake_servers.py echo --port P --api BASE [--tipline-session]
python bench/intake_servers.py admission --port P --database-url URL
python bench/intake_servers.py whatsapp --port P --database-url URL
python bench/intake_servers.py sms --port P --database-url URL
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "b" * 40
TOKEN = "123456:BENCH-token"


def echo(port: int, api: str, *, tipline_session: bool = False) -> None:
    """A bare aiogram bot that echoes every text, behind aiogram's own aiohttp webhook handler.

    With tipline_session, its Bot uses Tipline's cheaper HTTP session (bot.factory.create_bot)
    instead of aiogram's stock one: printed for information, the baseline stays stock aiogram.
    """
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    from bot.factory import create_bot

    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    if tipline_session:
        bot = create_bot(token=TOKEN, api_base=api)
    else:
        stock = AiohttpSession(api=TelegramAPIServer.from_base(api))
        bot = Bot(token=TOKEN, session=stock)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def reply(message: Message) -> None:
        await message.answer(message.text or "?")

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=SECRET).register(app, "/telegram/webhook")
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def admission(port: int, database_url: str) -> None:
    """Tipline's webhook endpoint with durable admission and nothing behind it."""
    from core.delivery.inbox import AdmissionBatcher
    from core.geo import build_geocoder
    from core.identity.vault import Vault
    from storage.db import create_engine, create_sessionmaker
    from web.app import WebContext

    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="bench",
        bot_mode="webhook",
        media_dir=Path("/tmp"),
        secret=b"x" * 32,
        geocoder=build_geocoder(user_agent="bench"),
        admission=AdmissionBatcher(sessions, chat_key=Vault(Vault.new_key()).chat_key),
        webhook_secret=SECRET,
    )
    _serve(context, port)


def whatsapp(port: int, database_url: str) -> None:
    """Tipline's WhatsApp webhook endpoint with durable admission and nothing behind it."""
    from core.whatsapp.admission import WhatsAppAdmission
    from tests.fakes.whatsapp.server import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN
    from web.whatsapp import WhatsAppIntake

    def intake(sessions: Any, vault: Any) -> dict[str, Any]:
        admission = WhatsAppAdmission(sessions, vault)
        return {
            "whatsapp": WhatsAppIntake(
                app_secret=APP_SECRET,
                verify_token=VERIFY_TOKEN,
                phone_number_id=PHONE_NUMBER_ID,
                admission=admission,
            )
        }

    _serve_signed(port, database_url, intake)


def sms(port: int, database_url: str) -> None:
    """Tipline's SMS webhook endpoint with durable admission and nothing behind it, signed for
    the URL it is served at."""
    from core.sms.admission import SmsAdmission
    from tests.fakes.sms.server import AUTH_TOKEN
    from web.sms import SmsIntake

    def intake(sessions: Any, vault: Any) -> dict[str, Any]:
        return {
            "sms": SmsIntake(
                auth_token=AUTH_TOKEN,
                base_url=f"http://127.0.0.1:{port}",
                name="Tipline bench",
                report_url="https://tips.example.org/report",
                admission=SmsAdmission(sessions, vault),
            )
        }

    _serve_signed(port, database_url, intake)


def _serve_signed(
    port: int, database_url: str, intake: Callable[[Any, Any], dict[str, Any]]
) -> None:
    """A signed channel's webhook (the WebContext fields `intake` makes from the sessions and
    a fresh vault), without the Telegram bot."""
    from core.geo import build_geocoder
    from core.identity.vault import Vault
    from storage.db import create_engine, create_sessionmaker
    from web.app import WebContext

    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    vault = Vault(Vault.new_key())
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision="bench",
        bot_mode="none",
        media_dir=Path("/tmp"),
        secret=b"x" * 32,
        geocoder=build_geocoder(user_agent="bench"),
        vault=vault,
        **intake(sessions, vault),
    )
    _serve(context, port)


def _serve(context: Any, port: int) -> None:
    """The app around `context` under uvicorn, as `tipline run` serves it."""
    import uvicorn
    import uvloop

    from bot.processor import tune_gc
    from web.app import create_app

    config = uvicorn.Config(
        create_app(context), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    # The collector as in `tipline run` (its inbox processor tunes it once started): without
    # it, full collections of the app's ~100k long-lived objects stalled admission 50-120 ms.
    tune_gc()
    uvloop.run(uvicorn.Server(config).serve())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["echo", "admission", "whatsapp", "sms"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", default="")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--tipline-session", action="store_true")
    args = parser.parse_args()
    if args.kind == "echo":
        echo(args.port, args.api, tipline_session=args.tipline_session)
    elif args.kind == "whatsapp":
        whatsapp(args.port, args.database_url)
    elif args.kind == "sms":
        sms(args.port, args.database_url)
    else:
        admission(args.port, args.database_url)


if __name__ == "__main__":
    main()
