"""The web application factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.alerts.dispatch import AlertPolicy
from core.delivery.inbox import AdmissionBatcher
from core.delivery.webhook_signing import WebhookSecrets
from core.delivery.webhook_targets import TargetRules
from core.errors import NotFound
from core.geo import GeocodingService
from core.identity.conversations import RedisConversations
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter, RateLimiter
from moderation.cases.import_leases import LEASE, process_token
from moderation.review.tip_access import AccessDenied
from storage.photostore import PhotoStores, open_photo_stores
from web.dashboard import router as dashboard_router
from web.dashboard.deps import route_actions
from web.dashboard.views import HANDLERS, denied, not_found
from web.ops import RequestIds
from web.ops import router as ops_router
from web.public.abuse import FormLimits
from web.public.case_form import router as case_form_router
from web.public.landing import router as landing_router
from web.public.people import router as people_router
from web.public.report import router as report_router
from web.security import SecurityHeaders
from web.sms import SmsIntake
from web.sms import router as sms_router
from web.telegram import router as telegram_router
from web.whatsapp import WhatsAppIntake
from web.whatsapp import router as whatsapp_router


@dataclass(slots=True)
class WebContext:
    """What the composition root hands to the web layer."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    head_revision: str
    bot_mode: str
    media_dir: Path
    secret: bytes
    geocoder: GeocodingService
    admission: AdmissionBatcher | None = None
    webhook_secret: str | None = None
    # WhatsApp (web/whatsapp.py): set when the four TIPLINE_WHATSAPP_* settings are.
    whatsapp: WhatsAppIntake | None = None
    # SMS (web/sms.py): set when the TIPLINE_SMS_* settings are.
    sms: SmsIntake | None = None
    # The business number people write to (settings.whatsapp_display_number): wa.me links.
    whatsapp_number: str | None = None
    # The dashboard: TOTP secrets are sealed with the vault; sign-in throttling; photo stores.
    vault: Vault | None = None
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    # The public forms' flood limits and the reverse proxies believed (web/public/abuse.py).
    form_limits: FormLimits = field(default_factory=FormLimits)
    photos: PhotoStores | None = None
    # Conversation state in Redis (settings.redis_url): an approved erasure deletes it there too.
    conversations: RedisConversations | None = None
    map_tile_url: str = ""
    public_url: str | None = None
    # Links on posters and in QR codes: settings' public URL (or its local fallback), never
    # the request's Host header, which anyone can set.
    base_url: str = "http://127.0.0.1:8080"
    # Evidence custody: where police packets may go, and the webhook secrets shown once.
    police_rules: TargetRules = field(default_factory=TargetRules)
    webhook_secrets: WebhookSecrets | None = None
    # Posters: the bot's @username (settings, or getMe once the bot starts) for the t.me
    # link; the CJK font (None: Debian's Noto CJK).
    bot_username: str | None = None
    poster_font: Path | None = None
    # Case alerts: how the radius grows and the daily cap (settings.alert_* / alerts_per_day).
    alerts: AlertPolicy = field(default_factory=AlertPolicy)
    # Staff invitations are e-mailed too when SMTP is configured (links start with base_url).
    mail_invites: bool = False
    # GET /metrics needs this bearer token (None: /metrics is a 404).
    metrics_token: str | None = None
    # Found-person imports: this process's name on the leases it holds, and how long one lasts
    # without renewal before another process may take the import over.
    import_owner: str = field(default_factory=process_token)
    import_lease: timedelta = LEASE

    def photo_stores(self) -> PhotoStores:
        """The media stores (local or S3) the composition root opened; tests may leave them
        out and get local directories under media_dir."""
        return self.photos or open_photo_stores(self.media_dir)


def create_app(context: WebContext) -> FastAPI:
    """Build the FastAPI app around an already-built context."""
    app = FastAPI(title="Tipline", version="0.1.0", docs_url="/api/docs", redoc_url=None)
    app.state.context = context
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), "static")

    app.include_router(ops_router)
    app.include_router(landing_router)
    app.include_router(telegram_router)
    app.include_router(whatsapp_router)
    app.include_router(sms_router)
    app.include_router(report_router)
    app.include_router(case_form_router)
    app.include_router(dashboard_router)
    # Last: /people/{ref} must not shadow fixed paths such as /people/new.
    app.include_router(people_router)
    for error, handler in HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.add_exception_handler(AccessDenied, denied)
    app.add_exception_handler(NotFound, not_found)
    app.add_middleware(SecurityHeaders, tile_url=context.map_tile_url)
    app.add_middleware(RequestIds)
    # Every dashboard route names one policy action; the policy tests read this registry.
    app.state.route_actions = route_actions(app)
    return app
