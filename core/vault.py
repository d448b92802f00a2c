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


class Vault:
    """Encrypts identity records with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise VaultKeyError(
                "TIPLINE_VAULT_KEY is not a valid key; create one with `tipline vault new-key`"
            ) from None
        self._lookup_key = hashlib.sha256(b"tipline-lookup:" + key.encode()).digest()

    @staticmethod
    def new_key() -> str:
        """A fresh random key."""
        return Fernet.generate_key().decode()

    def lookup_hash(self, channel: str, external_id: str) -> str:
        """A stable keyed hash to find a tipster without decrypting anything."""
        message = f"{channel}:{external_id}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

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
