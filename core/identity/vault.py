"""The identity vault: tipsters' contact details encrypted at rest, found by a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.errors import TiplineError

RECENT_CHATS = 10_000


class VaultKeyError(TiplineError):
    """The vault key is missing or malformed."""


def lookup_key_of(key: str) -> bytes:
    """The HMAC key of every lookup hash, derived from the vault key (migrations use it too)."""
    return hashlib.sha256(b"tipline-lookup:" + key.encode()).digest()


def keyed_hash(lookup_key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of "purpose:value" under the lookup key, in hex."""
    return hmac.digest(lookup_key, f"{purpose}:{value}".encode(), "sha256").hex()


class _Hmac:
    """HMAC-SHA256 under one key with its keyed state made once: each message then costs a copy
    and an update (about a third of `hmac.digest`, which sets the key up every time)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, message: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(message)
        return mac.digest()


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
        self._hmac = _Hmac(self._lookup_key)
        # Admission keys every update's chat: each recent chat's HMAC is computed once.
        self._chat_keys = lru_cache(maxsize=RECENT_CHATS)(self._chat_key)

    @staticmethod
    def new_key() -> str:
        """A fresh random key."""
        return Fernet.generate_key().decode()

    def lookup_hash(self, channel: str, external_id: str) -> str:
        """A stable keyed hash to find a tipster without decrypting anything."""
        return self._hmac.digest(f"{channel}:{external_id}".encode()).hex()

    def keyed(self, purpose: str, value: str) -> str:
        """A lookup key derived from an identity (a chat id, say): an HMAC, so whoever reads
        the database without the vault key cannot recompute it from a Telegram id."""
        return self._hmac.digest(f"{purpose}:{value}".encode()).hex()

    def chat_key(self, chat_id: int) -> int:
        """A chat's keyed number (63 bits, positive), for grouping a chat's inbox updates."""
        return self._chat_keys(chat_id)

    def _chat_key(self, chat_id: int) -> int:
        digest = self._hmac.digest(b"inbox-chat:%d" % chat_id)
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
