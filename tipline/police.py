"""Wiring of evidence custody: the address rules and the keys police deliveries are signed with."""

from __future__ import annotations

import hashlib
import hmac
import logging

from core.delivery.webhook_signing import WebhookSecrets
from core.delivery.webhook_targets import TargetRules
from settings import Settings
from tipline.startup import StartupError

log = logging.getLogger("tipline")


def _derive(vault_key: str, purpose: str) -> bytes:
    return hmac.new(vault_key.encode(), purpose.encode(), hashlib.sha256).digest()


def police_rules(settings: Settings) -> TargetRules:
    """The allow-list and the test exemption; the exemption is refused in production."""
    if settings.test_webhook_exempt_hosts and settings.production:
        raise StartupError(
            "TIPLINE_TEST_WEBHOOK_EXEMPT_HOSTS is for tests only; unset it in production."
        )
    if settings.police_webhook_secret is not None:
        # The shared key signed X-Tipline-Signature before each recipient had its own secret.
        log.warning(
            "TIPLINE_POLICE_WEBHOOK_SECRET is no longer used: each webhook recipient now has "
            "its own Standard Webhooks secret (see docs/forwarding.md, 'Upgrading'); unset it."
        )
    return TargetRules.build(
        allowed=settings.police_domains, exempt=settings.test_webhook_exempt_hosts
    )


def webhook_secrets(vault_key: str) -> WebhookSecrets:
    """Recipients' webhook secrets, derived from the vault key (never stored)."""
    return WebhookSecrets(_derive(vault_key, "police-webhook-secrets"))


def installation_key(vault_key: str) -> bytes:
    """This installation's key for e-mail Message-IDs (unique per installation and packet)."""
    return _derive(vault_key, "email-message-id")
