"""The background workers of the worker role (and of role all), built from settings.

Claimed work (photos, case photos, the outbox) runs in every worker process: rows are claimed
with FOR UPDATE SKIP LOCKED. Work that must run once per database (evidence, faces, alerts,
moderator cards, retention) runs under an advisory lock (workers/singleton.py): every worker
process starts it, one runs it, another takes over when that one dies.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiogram import Bot
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files import telegram_fetcher
from bot.sender import TelegramSender
from core.alerts.dispatch import AlertPolicy
from core.faces import load_face_engine
from core.identity.vault import Vault
from handlers.chats.processor import ChatProcessor, Transport
from handlers.context import BotServices
from handlers.sms.transport import sms_transport
from handlers.whatsapp.transport import whatsapp_transport
from moderation.cases.cards import CardSettings
from moderation.forwarding.police import OnCallPager
from settings import Settings
from storage.photostore import PhotoStores
from tipline.police import installation_key, police_rules, webhook_secrets
from workers.alerts import AlertWorker
from workers.buckets import Limits
from workers.case_photos import CasePhotoWorker
from workers.email import EmailSender
from workers.evidence import EvidenceWorker
from workers.faces import FaceWorker
from workers.moderator_cards import ModeratorCards
from workers.photos import Fetch, PhotoWorker, by_source
from workers.relay import Relay, Sender
from workers.rescoring import RescoreWorker
from workers.retention import RetentionWorker
from workers.rounds import run_rounds
from workers.shared_buckets import SharedBuckets, SharedPace
from workers.singleton import run_singleton
from workers.sms.rest import SmsClient
from workers.sms.sender import SmsSender
from workers.webhooks import WebhookSender
from workers.whatsapp.graph import GraphClient
from workers.whatsapp.media import whatsapp_fetcher
from workers.whatsapp.sender import WhatsAppSender

log = logging.getLogger("tipline")
Loop = Coroutine[Any, Any, None]
CHAT_PAUSE = 0.5  # seconds between rounds of the chat processor when its inbox is empty


def shared_buckets(settings: Settings) -> SharedBuckets | None:
    """Telegram's limits in Redis when TIPLINE_REDIS_URL is set (several processes share them)."""
    if not settings.redis_url:
        return None
    return SharedBuckets(Redis.from_url(settings.redis_url), Limits(), prefix=settings.redis_prefix)


def worker_loops(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    vault: Vault,
    vault_key: str,
    bot: Bot | None,
    stores: PhotoStores,
    alerts: AlertPolicy,
    chats: BotServices,
) -> list[Loop]:
    """Every background loop; singletons wrapped in their advisory lock (`chats`: what the
    conversations on WhatsApp use)."""
    quarantine = stores.quarantine
    fetchers: dict[str, Fetch] = {"telegram": telegram_fetcher(bot)}
    if settings.whatsapp:
        fetchers["whatsapp"] = whatsapp_fetcher(_graph(settings))
    fetch = by_source(fetchers)
    loops: list[Loop] = [
        PhotoWorker(
            sessions=sessions, stores=stores, quarantine=quarantine, fetch=fetch
        ).run_forever(),
        CasePhotoWorker(
            sessions=sessions, stores=stores, quarantine=quarantine, fetch=fetch
        ).run_forever(),
        _relay(
            settings, sessions, vault=vault, vault_key=vault_key, bot=bot, stores=stores
        ).run_forever(),
    ]
    once: dict[str, Callable[[], Awaitable[None]]] = {
        # Scores: the evidence worker evaluates new tips; rescoring keeps scores current.
        "evidence": EvidenceWorker(sessions=sessions).run_forever,
        "rescoring": RescoreWorker(sessions=sessions).run_forever,
        "retention": RetentionWorker(
            sessions=sessions,
            stores=stores,
            quarantine=quarantine,
            quarantine_hours=settings.retention_quarantine_hours,
            originals_days=settings.photo_retention_days,
            closed_case_days=settings.retention_closed_case_days,
        ).run_forever,
        "alerts": AlertWorker(
            sessions=sessions,
            radii=alerts.radii_km,
            step_minutes=alerts.step_minutes,
            per_day=alerts.per_day,
        ).run_forever,
    }
    if settings.faces:
        once["faces"] = lambda: _run_faces(settings, sessions, stores)
    else:
        print("Face matching is off (TIPLINE_FACES=false).", file=sys.stderr)
    if settings.moderators_chat_id is not None and bot is not None:
        cards = CardSettings(chat_id=settings.moderators_chat_id, base_url=settings.base_url)
        once["moderator-cards"] = ModeratorCards(sessions=sessions, settings=cards).run_forever
    if settings.whatsapp:
        loops.append(_chats(sessions, chats, whatsapp_transport()))
    if settings.sms:
        loops.append(_chats(sessions, chats, sms_transport()))
    engine = sessions.kw["bind"]
    loops.extend(run_singleton(engine, name, work) for name, work in once.items())
    return loops


def _relay(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    vault: Vault,
    vault_key: str,
    bot: Bot | None,
    stores: PhotoStores,
) -> Relay:
    """The outbox relay with a sender per channel (Telegram only when a bot is configured)."""
    rules = police_rules(settings)
    senders: dict[str, Sender] = {
        "email": EmailSender(
            sessions=sessions,
            stores=stores,
            installation=installation_key(vault_key),
            rules=rules,
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            vault=vault,
        ),
        "webhook": WebhookSender(
            sessions=sessions, stores=stores, secrets=webhook_secrets(vault_key), rules=rules
        ),
    }
    if bot is not None:
        senders["telegram"] = TelegramSender(
            bot=bot, vault=vault, sessions=sessions, display_store=stores.display
        )
    if settings.whatsapp:
        senders["whatsapp"] = _whatsapp_sender(settings, sessions, vault, stores)
    if settings.sms:
        senders["sms"] = _sms_sender(settings, sessions, vault)
    # Pages for urgent leads fan out to the on-call chat (only with a bot) and e-mails.
    senders["oncall"] = OnCallPager(
        sessions=sessions,
        chat_id=settings.oncall_chat_id if bot is not None else None,
        emails=settings.oncall_emails,
        base_url=settings.base_url,
    )
    return Relay(sessions=sessions, senders=senders, shared=shared_buckets(settings))


def _whatsapp_sender(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    stores: PhotoStores,
) -> WhatsAppSender:
    """The relay's WhatsApp sender (docs/whatsapp.md); its pace is shared through Redis when
    there is one."""
    pace = None
    if settings.redis_url:
        pace = SharedPace(Redis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    return WhatsAppSender(
        graph=_graph(settings),
        vault=vault,
        sessions=sessions,
        display_store=stores.display,
        pace=pace,
    )


def _graph(settings: Settings) -> GraphClient:
    """A Graph API client of the business number (each worker its own HTTP client)."""
    assert settings.whatsapp_token is not None and settings.whatsapp_phone_number_id
    return GraphClient(
        None,
        base=settings.whatsapp_api_base,
        token=settings.whatsapp_token.get_secret_value(),
        phone_number_id=settings.whatsapp_phone_number_id,
    )


async def _chats(
    sessions: async_sessionmaker[AsyncSession], services: BotServices, transport: Transport
) -> None:
    """Conversations on a transport (WhatsApp, SMS): the chat processor over its inbox."""
    processor = ChatProcessor(sessions=sessions, transport=transport, services=services)
    await run_rounds(processor.run_once, pause=CHAT_PAUSE, log=log, name=f"{transport.name} chats")


def _sms_sender(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], vault: Vault
) -> SmsSender:
    """The relay's SMS sender (docs/sms.md); its pace is shared through Redis when
    TIPLINE_REDIS_URL is set."""
    assert settings.sms_account_sid and settings.sms_auth_token and settings.sms_from
    client = SmsClient(
        None,
        base=settings.sms_api_base,
        account_sid=settings.sms_account_sid,
        auth_token=settings.sms_auth_token.get_secret_value(),
        sender=settings.sms_from,
        status_callback=f"{settings.base_url}/sms/status",
    )
    shared = None
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url)
        shared = SharedPace(redis, prefix=settings.redis_prefix, channel="sms")
    return SmsSender(client=client, vault=vault, sessions=sessions, shared=shared)


async def _run_faces(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], stores: PhotoStores
) -> None:
    engine = await asyncio.to_thread(load_face_engine)
    if engine is None:
        log.warning("face matching is off: install the 'faces' extra")
        return
    worker = FaceWorker(
        sessions=sessions, engine=engine, stores=stores, threshold=settings.face_threshold
    )
    await worker.run_forever()
