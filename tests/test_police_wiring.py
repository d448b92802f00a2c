"""The composition root's police settings: the test-only exemption is refused in production, the
allow-list is read from the environment's comma-separated form, the old shared key warns."""

from __future__ import annotations

import logging

import pytest

from settings import Settings
from tipline.police import installation_key, police_rules, webhook_secrets
from tipline.startup import StartupError


def test_the_test_exemption_is_refused_in_production():
    settings = Settings(production=True, test_webhook_exempt_hosts="127.0.0.1:8443")
    with pytest.raises(StartupError, match="tests only"):
        police_rules(settings)


def test_the_allow_list_comes_from_a_comma_separated_setting(monkeypatch):
    monkeypatch.setenv("TIPLINE_POLICE_DOMAINS", "Police.Example.org, .met.example.net,")
    rules = police_rules(Settings())
    assert rules.allowed_domains == ("police.example.org", "met.example.net")
    assert rules.allows_domain("hooks.police.example.org")
    assert not rules.allows_domain("police.example.org.evil.example")


def test_the_old_shared_webhook_key_only_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="tipline"):
        police_rules(Settings(police_webhook_secret="old-shared-key"))
    assert "no longer used" in caplog.text


def test_keys_are_derived_per_purpose_and_per_vault_key():
    a, b = "key-a" * 8, "key-b" * 8
    assert webhook_secrets(a).secret(1, 1) != webhook_secrets(b).secret(1, 1)
    assert installation_key(a) != installation_key(b)
