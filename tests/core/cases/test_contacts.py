"""A contact given during /newcase is held sealed: a token and a hint, opened only at submission."""

from __future__ import annotations

from core.cases.contacts import from_card, hint_of, hold_contact, open_held
from core.identity.vault import Vault


def test_a_held_contact_shows_only_its_last_two_characters_and_opens_back():
    vault = Vault(Vault.new_key())
    held = hold_contact(vault, "Mother: +86 138 0000 0042")
    assert held.hint == "•••42"
    assert "138" not in held.sealed and held.sealed.startswith("vault:")
    assert open_held(vault, held.sealed) == "Mother: +86 138 0000 0042"


def test_a_short_contact_shows_no_character_at_all():
    assert hint_of("  12345 ") == "•••"


def test_a_plain_contact_from_an_older_conversation_passes_through():
    assert open_held(Vault(Vault.new_key()), "+86 138 0000 0000") == "+86 138 0000 0000"


def test_a_shared_card_reads_as_name_and_phone():
    assert from_card(first_name="王", last_name=None, phone="+8613900000000") == "王 +8613900000000"
    assert from_card(first_name=None, last_name=None, phone=None) == ""
