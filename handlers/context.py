"""What every handler can rely on, injected per update by the bot's middlewares."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from core.geo import GeocodingService
from core.identity.conversations import RedisConversations
from core.identity.vault import Vault
from core.limits import MemoryRateLimiter, Rate, RateLimiter
from handlers.engine.channel import Origin
from storage.models import Tipster
from storage.photostore import PhotoStore


@dataclass(slots=True)
class Limits:
    """Abuse limits per tipster, and the overall rate of incoming chat messages."""

    tips_per_window: int = 5
    tips_window_seconds: float = 600
    messages_per_minute: int = 30
    # Every tipster on every chat channel together (settings.chat_limits_overall); () for none.
    overall: tuple[Rate, ...] = ()


@dataclass(slots=True)
class BotServices:
    """Long-lived services the handlers use (built once by the composition root)."""

    vault: Vault
    geocoder: GeocodingService
    bot_username: str = "tipline_bot"
    limits: Limits = field(default_factory=Limits)
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    # The moderators' supergroup (settings.moderators_chat_id); None turns its buttons off.
    moderators_chat_id: int | None = None
    # The public web address (settings.base_url): case cards link to /people/<ref> there.
    base_url: str = ""
    # Area alerts a volunteer may get a day (settings.alerts_per_day), also when joining.
    alerts_per_day: int = 3
    # The restricted originals store: erasure (/forget) deletes the originals it releases.
    originals: PhotoStore | None = None
    # Conversation state in Redis (settings.redis_url): erasure (/forget) deletes it there too.
    conversations: RedisConversations | None = None


@dataclass(frozen=True, slots=True)
class Sending:
    """What sending a flow's draft needs: where it comes from, the update's session, the sender
    and the services."""

    origin: Origin
    session: AsyncSession
    tipster: Tipster
    services: BotServices
