"""Tipsters: pseudonymous people who report, with their identity sealed in the vault."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.vault import Vault
from storage.models import Tipster
from storage.refs import new_ref
from storage.repositories import TipsterRepository

LANGUAGES = ("en", "zh-Hans")


def pick_language(code: str | None) -> str:
    """Map Telegram's language_code (e.g. 'zh-hans', 'zh-CN', 'en-GB') to a supported language."""
    if code and code.lower().startswith("zh"):
        return "zh-Hans"
    return "en"


async def get_or_create_tipster(
    session: AsyncSession,
    vault: Vault,
    *,
    channel: str,
    external_id: str,
    identity: dict[str, Any],
    language: str,
) -> Tipster:
    """Find a tipster by keyed hash of their channel id, or create one (and commit it)."""
    repo = TipsterRepository(session)
    lookup = vault.lookup_hash(channel, external_id)
    tipster = await repo.get_by_lookup_hash(lookup)
    if tipster is not None:
        return tipster
    record = {"channel": channel, "external_id": external_id, **identity}
    tipster = await repo.create(
        pseudonym=f"T-{new_ref()}",
        language=language,
        lookup_hash=lookup,
        ciphertext=vault.seal(record),
    )
    await session.commit()
    return tipster


async def add_to_identity(
    session: AsyncSession, vault: Vault, *, tipster_id: int, extra: dict[str, Any]
) -> None:
    """Merge details (e.g. a shared phone number) into the sealed identity; never commits."""
    identity = await TipsterRepository(session).get_identity(tipster_id=tipster_id)
    if identity is None:
        return
    record = vault.open(identity.ciphertext)
    record.update(extra)
    identity.ciphertext = vault.seal(record)


async def set_language(session: AsyncSession, *, tipster: Tipster, language: str) -> None:
    """Remember the tipster's language; commits."""
    tipster.language = language if language in LANGUAGES else "en"
    await session.commit()
