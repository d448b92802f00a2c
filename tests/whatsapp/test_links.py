"""The WhatsApp way to the tip line: the display number kept as wa.me wants it, and the links
the dashboard and the case page show with it."""

from __future__ import annotations

import pytest

from core.whatsapp.links import chat_link
from settings import Settings

FOUR = {
    "whatsapp_token": "EAAG-test-token",
    "whatsapp_app_secret": "app-secret-for-tests",
    "whatsapp_verify_token": "verify-token-of-16+chars",
    "whatsapp_phone_number_id": "106540352242922",
}


@pytest.mark.parametrize("written", ["+44 7700 900123", "44-7700-900123", "(44) 7700900123"])
def test_the_display_number_is_kept_as_its_international_digits(written):
    settings = Settings(whatsapp_display_number=written, **FOUR)
    assert settings.whatsapp_display_number == "447700900123"


def test_a_chat_link_prefills_the_message_encoded():
    link = chat_link("447700900123", "family_ABCD 2345&x")
    assert link == "https://wa.me/447700900123?text=family_ABCD%202345%26x"
