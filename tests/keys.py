"""One keyed-hash function for tests that admit updates without a bot's vault."""

from __future__ import annotations

from core.identity.vault import Vault

TEST_VAULT = Vault(Vault.new_key())
CHAT_KEY = TEST_VAULT.chat_key
