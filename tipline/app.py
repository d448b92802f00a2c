"""The composition root: build settings, database, web, workers and bot once, then run them.

`tipline run --role all` (the default) runs everything in one process, as SQLite requires. On
PostgreSQL + Redis a deployment splits it: `web` (HTTP and the webhook's durable admission, any
number), `bot` (the inbox processor; one leads at a time) and `worker` (the background workers,
any number). See docs/production.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import uvicorn
import uvloop
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.alerts.dispatch import AlertPolicy
from core.delivery.inbox import AdmissionBatcher
from core.geo import build_geocoder
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter, parse_rates
from core.photos.sandbox import without_root
from core.sms.admission import SmsAdmission
from core.whatsapp.admission import WhatsAppAdmission
from moderation.staff.invites import first_admin_invite
from settings import Settings
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from tipline.bot_username import learn_username
from tipline.infra import Media, check_redis, conversations_in_redis, open_media
from tipline.keys import load_vault_key
from tipline.logs import configure_logging
from tipline.police import police_rules, webhook_secrets
from tipline.startup import (
    bind_socket,
    check_role,
    lock_instance,
    prepare_database,
    private_directory,
    validate_database_url,
    webhook_secret,
)
from web.app import WebContext, create_app
from web.dashboard.imports import watch_left_imports
from web.ops import create_ops_app
from web.public.abuse import FormLimits
from web.sms import SmsIntake
from web.telegram import WebhookFirst
from web.whatsapp import WhatsAppIntake

if TYPE_CHECKING:
    # The bot and worker roles import these when they build their parts: aiogram's types take
    # seconds of CPU to build, which a web process (admission, forms, dashboard) never needs.
    from aiogram import Bot

    from handlers.context import BotServices, Limits
    from tipline.loops import Loop
    from tipline.telegram import TelegramSide

log = logging.getLogger("tipline")


def bot_mode(settings: Settings) -> str:
    """How the Telegram bot runs with these settings: disabled, polling or webhook."""
    if settings.bot_token is None:
        return "disabled"
    return "webhook" if settings.webhook_url else "polling"


WORKER_NICENESS = 5
"""The worker role runs this much lower than it was started: on a shared machine its rounds
(photos, evidence, scores, alerts, deliveries, none waited on by a person at the door) yield the
CPU to the web role's admission and the bot role's answers."""


def run(settings: Settings, role: str = "all") -> None:
    """Check, migrate (SQLite only) and start this role's parts until a signal."""
    validate_database_url(settings.database_url)
    configure_logging(settings, role=role)
    check_role(settings, role)
    private_directory(settings.var_dir)
    lock = lock_instance(settings)
    sock = bind_socket(settings.web_host, settings.web_port)
    media: Media | None = None
    try:
        if bot_mode(settings) == "webhook":
            webhook_secret(settings)
        vault_key = load_vault_key(settings)
        police_rules(settings)  # refuses the test-only exemption in production, early
        prepare_database(settings, vault_key=vault_key)
        check_redis(settings)
        if note := without_root(os.geteuid()):
            log.warning(note)
        media = open_media(settings)
        if role == "worker":
            os.nice(WORKER_NICENESS)
        uvloop.run(_serve(settings, sock, vault_key, role, media))
    finally:
        sock.close()
        if media is not None:
            media.close()
        if lock is not None:
            lock.close()


def derive_secret(vault_key: str, purpose: str) -> bytes:
    """A per-purpose secret derived from the vault key (CSRF tokens, callback tokens)."""
    return hmac.new(vault_key.encode(), purpose.encode(), hashlib.sha256).digest()


@dataclass(slots=True)
class _Parts:
    """What a role runs: its HTTP app, background loops, and what to close at the end."""

    app: FastAPI
    loops: list[Loop] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)
    telegram: TelegramSide | None = None
    admission: AdmissionBatcher | None = None


async def _serve(
    settings: Settings, sock: socket.socket, vault_key: str, role: str, media: Media
) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    context = await _web_context(settings, sessions, vault_key, role, media)
    parts = _assemble(settings, sessions, context, role, media, vault_key=vault_key)
    config = uvicorn.Config(
        WebhookFirst(parts.app),
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    print(
        f"Tipline {role} on http://{host}:{port} (database: {settings.backend}, "
        f"media: {'s3' if media.connection else 'local disk'})",
        file=sys.stderr,
    )
    print(_bot_line(context.bot_mode), file=sys.stderr)
    if role in ("all", "web"):
        await _announce_first_admin(settings, sessions)
    background = [asyncio.create_task(_supervised(loop)) for loop in parts.loops]
    try:
        await server.serve(sockets=[sock])
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await _close(parts)
        if context.whatsapp is not None:
            await context.whatsapp.admission.close()
        if context.sms is not None:
            await context.sms.admission.close()
        await engine.dispose()


async def _web_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    vault_key: str,
    role: str,
    media: Media,
) -> WebContext:
    geocoder = build_geocoder(user_agent="tipline")
    return WebContext(
        engine=sessions.kw["bind"],
        sessions=sessions,
        head_revision=migrate.head_revision(settings.database_url),
        bot_mode=bot_mode(settings),
        media_dir=settings.media_dir,
        secret=derive_secret(vault_key, "web"),
        geocoder=geocoder,
        vault=Vault(vault_key),
        limiter=_web_limiter(settings),
        form_limits=FormLimits.read(
            address=settings.form_limits_address,
            session=settings.form_limits_session,
            overall=settings.form_limits_overall,
            proxies=settings.trusted_proxies,
        ),
        photos=media.stores,
        conversations=conversations_in_redis(settings),
        map_tile_url=settings.map_tile_url,
        public_url=settings.public_url,
        base_url=settings.base_url,
        police_rules=police_rules(settings),
        webhook_secrets=webhook_secrets(vault_key),
        mail_invites=bool(settings.smtp_host),
        bot_username=settings.bot_username,
        whatsapp_number=settings.whatsapp_display_number,
        poster_font=settings.poster_font,
        alerts=AlertPolicy(
            radii_km=tuple(settings.alert_radii_km),
            step_minutes=settings.alert_step_minutes,
            per_day=settings.alerts_per_day,
        ),
        metrics_token=(
            settings.metrics_token.get_secret_value() if settings.metrics_token else None
        ),
        import_lease=timedelta(seconds=settings.import_lease_seconds),
        whatsapp=_whatsapp_intake(settings, sessions, Vault(vault_key), role),
        sms=_sms_intake(settings, sessions, Vault(vault_key), role),
    )


def _whatsapp_intake(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], vault: Vault, role: str
) -> WhatsAppIntake | None:
    """The WhatsApp webhook's secrets and admission, in the processes that serve HTTP."""
    if not settings.whatsapp or role not in ("all", "web"):
        return None
    assert settings.whatsapp_app_secret is not None
    assert settings.whatsapp_verify_token is not None
    assert settings.whatsapp_phone_number_id is not None
    return WhatsAppIntake(
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        verify_token=settings.whatsapp_verify_token.get_secret_value(),
        phone_number_id=settings.whatsapp_phone_number_id,
        admission=WhatsAppAdmission(sessions, vault),
    )


def _sms_intake(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], vault: Vault, role: str
) -> SmsIntake | None:
    """The SMS webhooks' token, signed URL and admission, in the processes that serve HTTP."""
    if not settings.sms or role not in ("all", "web"):
        return None
    assert settings.sms_auth_token is not None
    return SmsIntake(
        auth_token=settings.sms_auth_token.get_secret_value(),
        base_url=settings.base_url,
        name=settings.sms_name,
        report_url=f"{settings.base_url}/report",
        admission=SmsAdmission(sessions, vault),
    )


def _assemble(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    context: WebContext,
    role: str,
    media: Media,
    *,
    vault_key: str,
) -> _Parts:
    """The parts of one role (all: every part, in one process)."""
    serves_web = role in ("all", "web")
    parts = _Parts(app=create_app(context) if serves_web else create_ops_app(context))
    if role in ("all", "web", "bot"):
        parts.loops.append(_warm_gazetteer(context))
    if serves_web:  # imports run in web processes: take over those a gone process left
        parts.loops.append(watch_left_imports(context))
    mode = context.bot_mode
    if mode != "disabled" and role in ("all", "bot"):
        _add_bot(settings, sessions, context, parts, webhook=serves_web)
    elif mode != "disabled" and role == "web":
        if mode == "webhook":
            # Admission only: the bot role's processor reads the inbox (every 0.5 s).
            assert context.vault is not None
            parts.admission = AdmissionBatcher(sessions, chat_key=context.vault.chat_key)
            context.admission = parts.admission
            context.webhook_secret = webhook_secret(settings)
        if not settings.bot_username:  # for posters' t.me links
            parts.loops.append(_learn_bot_username(settings, context, None))
    if role in ("all", "worker"):
        _add_workers(settings, sessions, context, parts, media, vault_key=vault_key)
    return parts


def _chat_services(settings: Settings, context: WebContext) -> BotServices:
    """What conversations outside Telegram use (the rate limiter shared with the web's)."""
    from handlers.context import BotServices

    assert context.vault is not None
    return BotServices(
        vault=context.vault,
        geocoder=context.geocoder,
        base_url=settings.base_url,
        alerts_per_day=context.alerts.per_day,
        limits=_chat_limits(settings),
        limiter=context.limiter,
    )


def _chat_limits(settings: Settings) -> Limits:
    """Per-tipster limits, and the overall rate every chat channel shares."""
    from handlers.context import Limits

    return Limits(overall=parse_rates(settings.chat_limits_overall))


def _add_bot(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    context: WebContext,
    parts: _Parts,
    *,
    webhook: bool,
) -> None:
    """The inbox processor (and polling, or webhook admission when this process serves HTTP)."""
    from bot.flood import SharedFloodLimit
    from handlers.context import BotServices
    from tipline.loops import shared_buckets
    from tipline.telegram import build_telegram

    assert context.vault is not None
    services = BotServices(
        vault=context.vault,
        geocoder=context.geocoder,
        moderators_chat_id=settings.moderators_chat_id,
        base_url=settings.base_url,
        alerts_per_day=context.alerts.per_day,
        originals=context.photos.originals if context.photos else None,
        conversations=context.conversations,
        limits=_chat_limits(settings),
    )
    if settings.bot_username:
        services.bot_username = settings.bot_username
    # The web's limiter: the overall rate of chat messages counts Telegram's with the others'.
    telegram = build_telegram(
        settings, sessions, services, admission=webhook, limiter=context.limiter
    )
    shared = shared_buckets(settings)
    if shared is not None:
        telegram.bot.session.middleware(SharedFloodLimit(shared))
    if not settings.bot_username:
        parts.loops.append(_learn_bot_username(settings, context, services))
    if telegram.admission is not None:
        context.admission = telegram.admission
        context.webhook_secret = webhook_secret(settings)
    parts.loops.extend(telegram.loops)
    parts.telegram = telegram


def _add_workers(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    context: WebContext,
    parts: _Parts,
    media: Media,
    *,
    vault_key: str,
) -> None:
    """The background workers, with their own Bot (relay sends, file downloads)."""
    from bot.factory import create_bot
    from tipline.loops import worker_loops

    bot = None
    if settings.bot_token is not None:
        token = settings.bot_token.get_secret_value()
        bot = create_bot(token=token, api_base=settings.telegram_api_base)
        parts.bots.append(bot)
    assert context.vault is not None
    parts.loops.extend(
        worker_loops(
            settings,
            sessions,
            vault=context.vault,
            vault_key=vault_key,
            bot=bot,
            stores=media.stores,
            alerts=context.alerts,
            chats=_chat_services(settings, context),
        )
    )


async def _close(parts: _Parts) -> None:
    if parts.telegram is not None:
        await parts.telegram.close()
    if parts.admission is not None:
        await parts.admission.close()
    for bot in parts.bots:
        await bot.session.close()


async def _learn_bot_username(
    settings: Settings, context: WebContext, services: BotServices | None
) -> None:
    """Learn the bot's @username from getMe (for t.me links on posters and in the bot)."""
    assert settings.bot_token is not None
    username = await learn_username(
        api_base=settings.telegram_api_base, token=settings.bot_token.get_secret_value()
    )
    if username:
        if services is not None:
            services.bot_username = username
        context.bot_username = username


async def _warm_gazetteer(context: WebContext) -> None:
    """Load the gazetteer (about 2 s of CPU) once serving: a restarted process answers at
    once, and only a place typed in its first seconds waits for the load."""
    await asyncio.to_thread(context.geocoder.geocode, "Xi'an")


def _web_limiter(settings: Settings) -> RateLimiter:
    """Sign-in and form limits: shared through Redis when several web workers run, else memory."""
    if settings.redis_url:
        from redis.asyncio import Redis

        return RedisRateLimiter(Redis.from_url(settings.redis_url), f"{settings.redis_prefix}rl:")
    return MemoryRateLimiter()


async def _announce_first_admin(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """With no staff yet, print a one-time set-up link (there are no default passwords)."""
    async with sessions() as session:
        token = await first_admin_invite(session)
    if token:
        print(
            f"No staff accounts yet. Set up the first admin within 72 hours at this one-time "
            f"link: {settings.base_url}/setup/{token}",
            file=sys.stderr,
        )


def _bot_line(mode: str) -> str:
    if mode == "disabled":
        return "Telegram bot disabled: TIPLINE_BOT_TOKEN is not set (web form and dashboard run)."
    if mode == "webhook":
        return "Telegram bot in webhook mode: updates arrive at POST /telegram/webhook."
    return "Telegram bot in long-polling mode."


async def _supervised(loop: Any) -> None:
    """Run a background loop; a crash is logged loudly instead of vanishing with the task."""
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background loop %s crashed", getattr(loop, "__qualname__", loop))
