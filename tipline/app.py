"""The composition root: build settings, database, web, workers and bot once, then run them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import uvicorn
import uvloop
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files import telegram_fetcher
from bot.sender import TelegramSender
from core.alerts import AlertPolicy
from core.faces import load_face_engine
from core.geo import build_geocoder
from core.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from core.vault import Vault
from handlers.context import BotServices
from moderation.cards import CardSettings
from moderation.invites import first_admin_invite
from moderation.police import OnCallPager
from settings import Settings
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.photostore import PhotoStore, open_photo_stores
from tipline.keys import load_vault_key
from tipline.startup import bind_socket, lock_instance, prepare_database, validate_database_url
from tipline.telegram import build_telegram, webhook_secret
from web.abuse import FormLimits
from web.app import WebContext, create_app
from web.telegram import WebhookFirst
from workers.alerts import AlertWorker
from workers.case_photos import CasePhotoWorker
from workers.email import EmailSender
from workers.evidence import EvidenceWorker
from workers.faces import FaceWorker
from workers.moderator_cards import ModeratorCards
from workers.photos import PhotoWorker
from workers.relay import Relay, Sender
from workers.retention import RetentionWorker
from workers.webhooks import WebhookSender

log = logging.getLogger("tipline")


def bot_mode(settings: Settings) -> str:
    """How the Telegram bot runs with these settings: disabled, polling or webhook."""
    if settings.bot_token is None:
        return "disabled"
    return "webhook" if settings.webhook_url else "polling"


def run(settings: Settings) -> None:
    """Check, migrate (SQLite only) and start everything in this process until a signal."""
    validate_database_url(settings.database_url)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Migration chatter is not news; errors still reach stderr as one clear line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    lock = lock_instance(settings)
    sock = bind_socket(settings.web_host, settings.web_port)
    try:
        if bot_mode(settings) == "webhook":
            webhook_secret(settings)
        vault_key = load_vault_key(settings)
        prepare_database(settings)
        uvloop.run(_serve(settings, sock, vault_key))
    finally:
        sock.close()
        if lock is not None:
            lock.close()


def derive_secret(vault_key: str, purpose: str) -> bytes:
    """A per-purpose secret derived from the vault key (CSRF tokens, callback tokens)."""
    return hmac.new(vault_key.encode(), purpose.encode(), hashlib.sha256).digest()


async def _serve(settings: Settings, sock: socket.socket, vault_key: str) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    mode = bot_mode(settings)
    settings.media_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    geocoder = build_geocoder(user_agent="tipline")
    # Load the gazetteer now (about 2 s) rather than on the first tipster's message.
    await asyncio.to_thread(geocoder.geocode, "Xi'an")
    vault = Vault(vault_key)
    alert_policy = AlertPolicy(
        radii_km=tuple(settings.alert_radii_km),
        step_minutes=settings.alert_step_minutes,
        per_day=settings.alerts_per_day,
    )
    context = WebContext(
        engine=engine,
        sessions=sessions,
        head_revision=migrate.head_revision(settings.database_url),
        bot_mode=mode,
        media_dir=settings.media_dir,
        secret=derive_secret(vault_key, "web"),
        geocoder=geocoder,
        vault=vault,
        limiter=_web_limiter(settings),
        form_limits=FormLimits.read(
            address=settings.form_limits_address,
            session=settings.form_limits_session,
            overall=settings.form_limits_overall,
            proxies=settings.trusted_proxies,
        ),
        photos=open_photo_stores(settings.media_dir),
        map_tile_url=settings.map_tile_url,
        public_url=settings.public_url,
        bot_username=settings.bot_username,
        poster_font=settings.poster_font,
        alerts=alert_policy,
    )
    telegram = None
    loops: list[Coroutine[Any, Any, None]] = []
    if mode != "disabled":
        services = BotServices(
            vault=vault,
            geocoder=geocoder,
            moderators_chat_id=settings.moderators_chat_id,
            base_url=settings.base_url,
            alerts_per_day=alert_policy.per_day,
        )
        if settings.bot_username:
            services.bot_username = settings.bot_username
        telegram = build_telegram(settings, sessions, services)
        if not settings.bot_username:
            loops.append(_learn_bot_username(telegram.bot, services, context))
        context.admission = telegram.admission
        context.webhook_secret = webhook_secret(settings) if mode == "webhook" else None
        loops.extend(telegram.loops)
    bot = telegram.bot if telegram else None
    loops.append(_photo_worker(settings, sessions, bot).run_forever())
    loops.append(_case_photo_worker(settings, sessions, bot).run_forever())
    loops.extend(await _face_loops(settings, sessions))
    loops.append(
        _relay(settings, sessions, vault, telegram.bot if telegram else None).run_forever()
    )
    if settings.moderators_chat_id is not None and telegram is not None:
        cards = CardSettings(chat_id=settings.moderators_chat_id, base_url=settings.base_url)
        loops.append(ModeratorCards(sessions=sessions, settings=cards).run_forever())
    if settings.photo_retention_days:
        loops.append(
            RetentionWorker(
                sessions=sessions,
                originals=open_photo_stores(settings.media_dir).originals,
                quarantine=PhotoStore(settings.media_dir / "quarantine"),
                days=settings.photo_retention_days,
            ).run_forever()
        )
    loops.append(EvidenceWorker(sessions=sessions).run_forever())
    loops.append(
        AlertWorker(
            sessions=sessions,
            radii=alert_policy.radii_km,
            step_minutes=alert_policy.step_minutes,
            per_day=alert_policy.per_day,
        ).run_forever()
    )
    app = create_app(context)
    config = uvicorn.Config(
        WebhookFirst(app), log_level=settings.log_level.lower(), access_log=False
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    print(f"Tipline web on http://{host}:{port} (database: {settings.backend})", file=sys.stderr)
    print(_bot_line(mode), file=sys.stderr)
    await _announce_first_admin(settings, sessions)
    background = [asyncio.create_task(_supervised(loop)) for loop in loops]
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if telegram is not None:
            await telegram.close()
        await engine.dispose()


async def _learn_bot_username(bot: Bot, services: BotServices, context: WebContext) -> None:
    """Learn the bot's @username from getMe (for t.me links on posters), retrying."""
    while True:
        try:
            me = await bot.get_me()
            break
        except Exception as exc:  # noqa: BLE001 - Telegram unreachable: posters link the web page
            log.warning("cannot learn the bot's username (%s); retrying in 30s", exc)
            await asyncio.sleep(30)
    if me.username:
        services.bot_username = me.username
        context.bot_username = me.username


def _web_limiter(settings: Settings) -> RateLimiter:
    """Sign-in and form limits: shared through Redis when several web workers run, else memory."""
    if settings.redis_url:
        from redis.asyncio import Redis

        return RedisRateLimiter(Redis.from_url(settings.redis_url))
    return MemoryRateLimiter()


def _photo_worker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], bot: Bot | None
) -> PhotoWorker:
    return PhotoWorker(
        sessions=sessions,
        stores=open_photo_stores(settings.media_dir),
        quarantine=PhotoStore(settings.media_dir / "quarantine"),
        fetch=telegram_fetcher(bot),
    )


def _case_photo_worker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], bot: Bot | None
) -> CasePhotoWorker:
    return CasePhotoWorker(
        sessions=sessions,
        stores=open_photo_stores(settings.media_dir),
        quarantine=PhotoStore(settings.media_dir / "quarantine"),
        fetch=telegram_fetcher(bot),
    )


def _relay(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], vault: Vault, bot: Bot | None
) -> Relay:
    """The outbox relay with a sender per channel (Telegram only when a bot is configured)."""
    stores = open_photo_stores(settings.media_dir)
    senders: dict[str, Sender] = {
        "email": EmailSender(
            sessions=sessions,
            stores=stores,
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
        ),
        "webhook": WebhookSender(
            sessions=sessions,
            stores=stores,
            secret=(
                settings.police_webhook_secret.get_secret_value().encode()
                if settings.police_webhook_secret
                else None
            ),
        ),
    }
    if bot is not None:
        senders["telegram"] = TelegramSender(
            bot=bot, vault=vault, sessions=sessions, display_store=stores.display
        )
    # Pages for urgent leads fan out to the on-call chat (only with a bot) and e-mails.
    senders["oncall"] = OnCallPager(
        sessions=sessions,
        chat_id=settings.oncall_chat_id if bot is not None else None,
        emails=settings.oncall_emails,
        base_url=settings.base_url,
    )
    return Relay(sessions=sessions, senders=senders)


async def _face_loops(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Coroutine[Any, Any, None]]:
    """The face worker, when face matching is on (models load in the background)."""
    if not settings.faces:
        print("Face matching is off (TIPLINE_FACES=false).", file=sys.stderr)
        return []
    return [_run_faces(settings, sessions)]


async def _run_faces(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    engine = await asyncio.to_thread(load_face_engine)
    if engine is None:
        log.warning("face matching is off: install the 'faces' extra")
        return
    worker = FaceWorker(
        sessions=sessions,
        engine=engine,
        stores=open_photo_stores(settings.media_dir),
        threshold=settings.face_threshold,
    )
    await worker.run_forever()


async def _announce_first_admin(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """With no staff yet, print a one-time set-up link (there are no default passwords)."""
    async with sessions() as session:
        token = await first_admin_invite(session)
    if token:
        print(
            f"No staff accounts yet. Set up the first admin within 48 hours at this one-time "
            f"link: {settings.base_url}/setup/{token}",
            file=sys.stderr,
        )


def _bot_line(mode: str) -> str:
    if mode == "disabled":
        return "Telegram bot disabled: TIPLINE_BOT_TOKEN is not set (web form and dashboard run)."
    if mode == "webhook":
        return "Telegram bot in webhook mode: updates arrive at POST /telegram/webhook."
    return "Telegram bot in long-polling mode."


async def _supervised(loop: Coroutine[Any, Any, None]) -> None:
    """Run a background loop; a crash is logged loudly instead of vanishing with the task."""
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background loop %s crashed", getattr(loop, "__qualname__", loop))
