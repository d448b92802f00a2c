"""The family's contact while a case is still being filled in through the bot.

It is sealed by the vault the moment it arrives: the conversation state (in the database or in
Redis) then holds a sealed token and a short hint for the summary ("•••78"), never the phone
number or the names, even when /newcase is left half-finished. The case's own column is sealed
the same way when it is submitted (case_registry.submit_case).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.identity.vault import Vault

SEALED = "vault:"
HINT_SHOWN = 2
"""The last characters the summary shows: enough to recognise one's number, not to find it."""
HINT_MIN = 6


@dataclass(frozen=True, slots=True)
class HeldContact:
    """A contact sealed for the conversation state, and what the summary may show of it."""

    sealed: str
    hint: str


def from_card(*, first_name: str | None, last_name: str | None, phone: str | None) -> str:
    """The text of a shared contact card: "Name Surname +86..."."""
    name = " ".join(part for part in (first_name, last_name) if part)
    return f"{name} {phone or ''}".strip()


def is_sealed(value: str) -> bool:
    """Whether a stored contact is a sealed token (and not plain text)."""
    return value.startswith(SEALED)


def hint_of(contact: str) -> str:
    """A masked form of a contact: its last two characters when it is long enough."""
    cleaned = contact.strip()
    if len(cleaned) < HINT_MIN:
        return "•••"
    return "•••" + cleaned[-HINT_SHOWN:]


def hold_contact(vault: Vault, contact: str) -> HeldContact:
    """Seal a contact for the conversation state (plain text never reaches it)."""
    token = vault.seal({"contact": contact}).decode("ascii")
    return HeldContact(sealed=SEALED + token, hint=hint_of(contact))


def open_held(vault: Vault, value: str) -> str:
    """The contact a sealed token holds (a plain value, from before sealing, is returned as is)."""
    if not is_sealed(value):
        return value
    return str(vault.open(value.removeprefix(SEALED).encode("ascii")).get("contact", ""))
