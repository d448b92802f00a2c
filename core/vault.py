"""The identity vault: tipsters' contact details encrypted at rest, found by a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.errors import TiplineError


class VaultKeyError(TiplineError):
    """The vault key is missing or malformed."""


def lookup_key_of(key: str) -> bytes:
    """The HMAC key of every lookup hash, derived from the vault key (migrations use it too)."""
    return hashlib.sha256(b"tipline-lookup:" + key.encode()).digest()


def keyed_hash(lookup_key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of "purpose:value" under the lookup key, in hex."""
    return hmac.digest(lookup_key, f"{purpose}:{value}".encode(), "sha256").hex()


class Vault:
    """Encrypts identity records with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise VaultKeyError(
                "TIPLINE_VAULT_KEY is not a valid key; create one with `tipline vault new-key`"
            ) from None
        self._lookup_key = lookup_key_of(key)

    @staticmethod
    def new_key() -> str:
        """A fresh random key."""
        return Fernet.generate_key().decode()

    def lookup_hash(self, channel: str, external_id: str) -> str:
        """A stable keyed hash to find a tipster without decrypting anything."""
        return keyed_hash(self._lookup_key, channel, external_id)

    def keyed(self, purpose: str, value: str) -> str:
        """A lookup key derived from an identity (a chat id, say): an HMAC, so whoever reads
        the database without the vault key cannot recompute it from a Telegram id."""
        return keyed_hash(self._lookup_key, purpose, value)

    def chat_key(self, chat_id: int) -> int:
        """A chat's keyed number (63 bits, positive), for grouping a chat's inbox updates."""
        digest = hmac.digest(self._lookup_key, b"inbox-chat:%d" % chat_id, "sha256")
        return int.from_bytes(digest[:8], "big") >> 1

    def conversation_key(self, *, chat_id: int, user_id: int, destiny: str = "default") -> str:
        """The conversation-state key of a private chat (bot.fsm builds the same)."""
        return "fsm:" + self.keyed("fsm", f"{chat_id}:{user_id}:{destiny}")

    def seal(self, record: dict[str, Any]) -> bytes:
        """Encrypt an identity record."""
        return self._fernet.encrypt(json.dumps(record, sort_keys=True).encode())

    def open(self, ciphertext: bytes) -> dict[str, Any]:
        """Decrypt an identity record (only for recorded, authorised reveals and delivery)."""
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(ciphertext))
        except InvalidToken:
            raise VaultKeyError("this identity was sealed with another vault key") from None
        return data


def telegram_source_key(vault: Vault, *, kind: str, chat_id: int, draft_id: str) -> str:
    """The exactly-once key of a tip or case sent from a Telegram chat: keyed, so the chat id
    cannot be read back from `tips.source_key` or `cases.source_key`."""
    prefix = "telegram" if kind == "tip" else f"telegram-{kind}"
    return f"{prefix}:{vault.keyed(f'{kind}-source', f'{chat_id}:{draft_id}')}"
