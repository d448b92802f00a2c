"""Tipline settings: read from TIPLINE_* environment variables and .env, built once at start."""

from __future__ import annotations

import re
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.limits import parse_rates

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/tipline.db"
TELEGRAM_API = "https://api.telegram.org"
WHATSAPP_API = "https://graph.facebook.com/v21.0"
_WHATSAPP_ID = re.compile(r"[0-9]{5,20}")
SMS_API = "https://api.twilio.com"
_SMS_ACCOUNT = re.compile(r"[A-Za-z0-9-]{16,64}")
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")
_HTTP_URL = re.compile(r"https?://[^\s/]+(/[^\s]*)?")
_DISPLAY_NUMBER = re.compile(r"[1-9][0-9]{6,14}")  # E.164: at most 15 digits, no leading 0


class Settings(BaseSettings):
    """Every knob of Tipline; the names are a contract other tools drive Tipline through."""

    model_config = SettingsConfigDict(
        env_prefix="TIPLINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = DEFAULT_DATABASE_URL
    bot_token: SecretStr | None = None
    telegram_api_base: str = TELEGRAM_API
    # WhatsApp Business Cloud API (docs/whatsapp.md): all four of token, app secret, verify
    # token and phone number id, or none (WhatsApp off).
    whatsapp_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base: str = WHATSAPP_API
    # SMS through a Twilio-compatible provider (docs/sms.md): account SID, auth token and our
    # number, or none (SMS off). The provider signs the webhook URL it calls, so SMS also
    # needs public_url (what the provider calls, behind any proxy).
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_from: str | None = None
    sms_api_base: str = SMS_API
    # Who HELP says is texting (carriers require the name).
    sms_name: str = Field(default="Tipline", min_length=1, max_length=40)
    # The business number people write to, in international form ("+44 7700 900123"): the
    # dashboard's family links and the case page then open WhatsApp too (wa.me links).
    whatsapp_display_number: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    media_dir: Path = Path("./var/media")
    var_dir: Path = Path("./var")
    redis_url: str | None = None
    # Prefix of the Redis keys Tipline writes (several deployments may share one Redis).
    redis_prefix: str = "tipline:"
    # Media: local disk under media_dir unless media_url is s3://bucket/prefix (docs/production.md).
    media_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # GET /metrics answers only `Authorization: Bearer <metrics_token>`; unset, it is a 404.
    metrics_token: SecretStr | None = None
    # Logs: "text" (human-readable) or "json" (one event per line, docs/operations.md).
    log_format: Literal["text", "json"] = "text"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    vault_key: SecretStr | None = None
    production: bool = False
    log_level: str = "INFO"
    public_url: str | None = None
    moderators_chat_id: int | None = None
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    face_threshold: float = Field(default=0.6, gt=0, le=2)
    # A found-person import's lease: a web process that stops renewing it for this long is taken
    # to be gone, and another takes the import over (docs/matching.md).
    import_lease_seconds: float = Field(default=60, gt=0, le=3600)
    faces: bool = True
    photo_retention_days: int | None = Field(default=None, ge=1)
    # Retention (docs/retention.md): quarantined uploads that never became photos, and the tips
    # and photos of ended cases (anything sent to police is on legal hold and stays).
    retention_quarantine_hours: int = Field(default=24, ge=1)
    retention_closed_case_days: int = Field(default=730, ge=1)
    # Forwarding leads: SMTP for police packets and on-call e-mail, who is paged for urgent
    # leads, and the key that signs police webhook bodies (docs/forwarding.md).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "tipline@localhost"
    smtp_starttls: bool = True
    oncall_emails: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oncall_chat_id: int | None = None
    # Deprecated: signed X-Tipline-Signature before webhook recipients had their own secrets.
    police_webhook_secret: SecretStr | None = None
    # Evidence custody (docs/forwarding.md): when set, the only e-mail domains and webhook hosts
    # (and their subdomains) police packets may go to. The exemption is for tests only.
    police_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    test_webhook_exempt_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Cases, posters and area alerts (docs/cases.md). The bot's @username makes the
    # t.me/<bot>?start=case_<code> links on posters; when unset it is learned from getMe.
    bot_username: str | None = None
    poster_font: Path | None = None
    # The alert radius grows with the time since the child was last seen: radius i applies
    # from (i * alert_step_minutes) minutes on; the last one stays (China's Tuanyuan system:
    # within 1 hour 100 km, 2 hours 200 km, 3 hours 300 km, then 500 km).
    alert_radii_km: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [100.0, 200.0, 300.0, 500.0]
    )
    alert_step_minutes: int = Field(default=60, ge=1)
    alerts_per_day: int = Field(default=3, ge=1, le=100)
    # The public forms (/report, /people/new, /status): rates per client address, per browser
    # session and overall, each "COUNT/WINDOW[,COUNT/WINDOW]" (windows in s, m, h or d). A
    # person sends several reports an hour; a script is stopped within seconds.
    form_limits_address: str = "10/1m,40/1h"
    form_limits_session: str = "5/1m,20/1h"
    form_limits_overall: str = "300/1m"
    # Incoming chat messages handled, all tipsters on every chat channel together (Telegram,
    # WhatsApp, SMS), as "COUNT/WINDOW[,...]". Beyond it a message waits in its inbox, kept, and
    # is handled as the rate allows; a conversation under way goes on (docs/ARCHITECTURE.md).
    chat_limits_overall: str = "600/1m"
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator(
        "bot_token",
        "webhook_secret",
        "vault_key",
        "redis_url",
        "webhook_url",
        "media_url",
        "s3_endpoint_url",
        "s3_access_key_id",
        "s3_secret_access_key",
        "metrics_token",
        "whatsapp_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "whatsapp_phone_number_id",
        "sms_account_sid",
        "sms_auth_token",
        "sms_from",
        "public_url",
        "whatsapp_display_number",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty variable means 'not set', as in most shells' `VAR=` idiom."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator(
        "smtp_host", "smtp_user", "smtp_password", "police_webhook_secret", mode="before"
    )
    @classmethod
    def _blank_smtp_is_none(cls, value: object) -> object:
        """An empty variable means 'not set'."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("oncall_emails", "police_domains", "test_webhook_exempt_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """TIPLINE_ONCALL_EMAILS=a@x.org,b@y.org (blank: nobody); the same for the others."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("alert_radii_km", mode="before")
    @classmethod
    def _radii(cls, value: object) -> object:
        """TIPLINE_ALERT_RADII_KM=100,200,300,500: growing, each between 1 and 2,000 km."""
        if isinstance(value, str):
            value = [float(part) for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            if not value or any(not 1 <= float(r) <= 2000 for r in value):
                raise ValueError("alert radii must be between 1 and 2000 km")
            if sorted(value) != list(value):
                raise ValueError("alert radii must grow")
        return value

    @field_validator("bot_username", "poster_font", mode="before")
    @classmethod
    def _blank_optional_is_none(cls, value: object) -> object:
        """An empty variable means 'not set'; a bot username may be given with its @."""
        if isinstance(value, str):
            value = value.strip().lstrip("@")
            return value or None
        return value

    @field_validator(
        "form_limits_address", "form_limits_session", "form_limits_overall", "chat_limits_overall"
    )
    @classmethod
    def _rates(cls, value: str) -> str:
        """Refuse nonsense at start: zero, negative, huge counts, windows outside 1 s..1 day."""
        parse_rates(value)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """TIPLINE_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8: each an address or a network."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for item in value if isinstance(value, list) else []:
            try:
                ip_network(str(item), strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {item!r} is not an address or network") from None
        return value

    @field_validator("whatsapp_phone_number_id")
    @classmethod
    def _whatsapp_id(cls, value: str | None) -> str | None:
        """Meta's phone number id is a number (not the phone number itself, which has a +)."""
        if value is not None and _WHATSAPP_ID.fullmatch(value.strip()) is None:
            raise ValueError(
                "the WhatsApp phone number id is Meta's numeric id (WhatsApp Manager > API setup)"
            )
        return None if value is None else value.strip()

    @field_validator("whatsapp_display_number")
    @classmethod
    def _whatsapp_number(cls, value: str | None) -> str | None:
        """Kept as wa.me wants it: the digits of the international number, without the +."""
        if value is None:
            return None
        digits = re.sub(r"[\s().-]", "", value).removeprefix("+")
        if _DISPLAY_NUMBER.fullmatch(digits) is None:
            raise ValueError(
                f"the WhatsApp display number {value!r} is not an international phone number "
                "(country code first, for example +44 7700 900123)"
            )
        return digits

    @field_validator("whatsapp_api_base", "sms_api_base")
    @classmethod
    def _api_base(cls, value: str, info: ValidationInfo) -> str:
        """An http(s) URL without a trailing slash."""
        value = value.strip().rstrip("/")
        if not _HTTP_URL.fullmatch(value):
            name = "WhatsApp" if info.field_name == "whatsapp_api_base" else "SMS"
            raise ValueError(f"the {name} API base {value!r} is not an http(s) URL")
        return value

    @field_validator("sms_account_sid")
    @classmethod
    def _sms_account(cls, value: str | None) -> str | None:
        """The provider's account id: Twilio's AC and 32 hex digits, or a project UUID."""
        if value is not None and _SMS_ACCOUNT.fullmatch(value.strip()) is None:
            raise ValueError(
                "the SMS account SID is letters, digits and dashes (Twilio: AC + 32 hex digits)"
            )
        return None if value is None else value.strip()

    @field_validator("sms_from")
    @classmethod
    def _sms_from(cls, value: str | None) -> str | None:
        """Our number in E.164: + and the country code, digits only (+447700900123)."""
        if value is not None and _E164.fullmatch(value.strip()) is None:
            raise ValueError(f"TIPLINE_SMS_FROM {value!r} is not an E.164 number (+447700900123)")
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _sms_complete(self) -> Settings:
        """SMS needs its three settings and a public URL: half a configuration is a mistake."""
        given = [self.sms_account_sid, self.sms_auth_token, self.sms_from]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError(
                "sms: set all of TIPLINE_SMS_ACCOUNT_SID, TIPLINE_SMS_AUTH_TOKEN and "
                "TIPLINE_SMS_FROM, or none"
            )
        if self.sms and (self.public_url is None or not _HTTP_URL.fullmatch(self.public_url)):
            raise ValueError(
                "sms: TIPLINE_PUBLIC_URL must be the http(s) address the SMS provider calls "
                "(it signs that URL)"
            )
        return self

    @model_validator(mode="after")
    def _whatsapp_complete(self) -> Settings:
        """WhatsApp needs all four of its settings: half a configuration is a mistake."""
        given = [
            self.whatsapp_token,
            self.whatsapp_app_secret,
            self.whatsapp_verify_token,
            self.whatsapp_phone_number_id,
        ]
        if any(v is not None for v in given) and any(v is None for v in given):
            raise ValueError(
                "whatsapp: set all of TIPLINE_WHATSAPP_TOKEN, TIPLINE_WHATSAPP_APP_SECRET, "
                "TIPLINE_WHATSAPP_VERIFY_TOKEN and TIPLINE_WHATSAPP_PHONE_NUMBER_ID, or none"
            )
        if self.whatsapp_display_number is not None and self.whatsapp_token is None:
            raise ValueError("whatsapp_display_number needs the four WhatsApp settings too")
        secret = self.whatsapp_verify_token
        if secret is not None and len(secret.get_secret_value()) < 16:
            raise ValueError("whatsapp_verify_token must be at least 16 characters")
        return self

    @property
    def whatsapp(self) -> bool:
        """Whether the WhatsApp channel is configured."""
        return self.whatsapp_token is not None

    @property
    def sms(self) -> bool:
        """Whether the SMS channel is configured."""
        return self.sms_account_sid is not None

    @property
    def backend(self) -> str:
        """The database backend name: 'sqlite' or 'postgresql'."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    @property
    def base_url(self) -> str:
        """Where people reach the web app (for links in messages and posters)."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        """Whether the embedded SQLite database is in use."""
        return self.backend == "sqlite"
