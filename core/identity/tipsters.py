"""Tipsters: pseudonymous people who report, with their identity sealed in the vault."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.outbox import parse_recipient
from core.identity.vault import Vault
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
    """Find a tipster by keyed hash of their channel id, or create one (and commit it); the
    channel is also kept in plain on the tipster, so messages to them are queued for it."""
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
        channel=channel,
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


class NoIdentity(ValueError):
    """An outbox recipient that names no one we can reach (bad form, no identity on file)."""


async def identity_of(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, recipient: str
) -> tuple[str, int, dict[str, Any] | None]:
    """(kind, number, opened identity) of an outbox recipient; only a tipster's identity is
    opened (for a `chat:` recipient it is None). Senders call this at send time only."""
    try:
        kind, number = parse_recipient(recipient)
    except ValueError as exc:
        raise NoIdentity(str(exc)) from None
    if kind != "tipster":
        return kind, number, None
    async with sessions() as session:
        identity = await TipsterRepository(session).get_identity(tipster_id=number)
    if identity is None:
        raise NoIdentity("the tipster has no identity on file")
    return kind, number, vault.open(identity.ciphertext)


async def address_on(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, recipient: str, *, channel: str
) -> str:
    """A tipster's number on a channel that reaches people by number (WhatsApp, SMS), opened
    from the vault at send time only; NoIdentity when the recipient has none there."""
    _, _, record = await identity_of(sessions, vault, recipient)
    if record is None:
        raise NoIdentity(f"only tipster recipients have {channel} numbers")
    address = record.get("external_id")
    if record.get("channel") != channel or not isinstance(address, str):
        raise NoIdentity(f"the tipster is not on {channel}")
    return address
