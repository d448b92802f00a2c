"""The identity vault encrypts, finds by keyed hash, and refuses foreign keys."""

from __future__ import annotations

import pytest

from core.identity.vault import Vault, VaultKeyError


def test_sealed_identity_round_trips_and_hides_plaintext():
    vault = Vault(Vault.new_key())
    sealed = vault.seal({"chat_id": 424242, "username": "someone"})
    assert b"someone" not in sealed and b"424242" not in sealed
    assert vault.open(sealed) == {"chat_id": 424242, "username": "someone"}


def test_lookup_hash_is_stable_per_key_and_differs_across_keys():
    key = Vault.new_key()
    assert Vault(key).lookup_hash("telegram", "1") == Vault(key).lookup_hash("telegram", "1")
    assert Vault(key).lookup_hash("telegram", "1") != Vault(key).lookup_hash("telegram", "2")
    assert Vault(key).lookup_hash("telegram", "1") != Vault(Vault.new_key()).lookup_hash(
        "telegram", "1"
    )


def test_other_key_and_malformed_key_are_refused():
    sealed = Vault(Vault.new_key()).seal({"a": 1})
    with pytest.raises(VaultKeyError):
        Vault(Vault.new_key()).open(sealed)
    with pytest.raises(VaultKeyError):
        Vault("short")
