"""The vault key: required in production, generated once into ./var for the embedded set-up."""

from __future__ import annotations

import os
from pathlib import Path

from core.identity.vault import Vault
from settings import Settings
from tipline.startup import StartupError


def load_vault_key(settings: Settings) -> str:
    """Return the vault key from settings, or the embedded key file (created on first run)."""
    if settings.vault_key is not None:
        key = settings.vault_key.get_secret_value()
    elif settings.production or not settings.is_sqlite:
        raise StartupError(
            "TIPLINE_VAULT_KEY is required outside the embedded SQLite set-up; create one with "
            "`tipline vault new-key` and keep it in your secret store."
        )
    else:
        key = _embedded_key(settings.var_dir / "vault.key")
    Vault(key)  # validates the key's shape early
    return key


def _embedded_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Vault.new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
