"""What a person may send on WhatsApp besides a report's answers: typed commands, and the kinds
the tip line does not read (one clear reply each, in their language; a contact card kept only
sealed in the vault)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.i18n import Texts
from core.identity.erasure import erase_identity
from handlers.context import Limits
from storage.models import FsmState, Tipster, TipsterIdentity, WhatsAppInbound
from tests.fakes.whatsapp import payloads as wa
from tests.keys import TEST_VAULT
from tests.privacy_scan import scan_tables
from tests.whatsapp.chats import line as read_line
from tests.whatsapp.chats import whatsapp_line

EN, ZH = Texts("en", "chat"), Texts("zh-Hans", "chat")
AUDIO = ("audio", {"id": "9100", "mime_type": "audio/ogg; codecs=opus", "voice": True})
ORDER = ("order", {"catalog_id": "1", "product_items": []})


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


@pytest.mark.parametrize(
    "message",
    [wa.sticker("9001"), wa.reaction("wamid.X", "👍"), AUDIO, ORDER],
    ids=["sticker", "reaction", "audio", "unknown type"],
)
async def test_what_the_tip_line_does_not_read_gets_one_reply_saying_what_it_reads(line, message):
    (reply,) = await line.sends(*message)
    assert read_line(reply) == EN("chat.unsupported")


async def test_a_chinese_number_is_answered_in_chinese(line):
    line.phone = "8613800001111"
    (reply,) = await line.sends(*wa.sticker("9001"))
    assert read_line(reply) == ZH("chat.unsupported")


async def test_a_contact_card_is_kept_only_sealed_in_the_vault(line, engine, sessions):
    (reply,) = await line.sends(*wa.contacts("Li Dashan", "+86 137 0000 9999"))
    assert read_line(reply) == EN("input.contact_kept")
    assert await scan_tables(engine, ["Li Dashan", "137 0000 9999", line.phone]) == []
    async with sessions() as session:
        (identity,) = (await session.scalars(select(TipsterIdentity))).all()
        (message,) = (await session.scalars(select(WhatsAppInbound))).all()
    shared = TEST_VAULT.open(identity.ciphertext)["shared_contacts"]
    assert shared[0]["name"]["formatted_name"] == "Li Dashan"
    assert (message.status, message.payload, message.sealed_sender) == ("processed", {}, b"")


async def test_typed_commands_start_help_cancel_and_one_not_known_here(line):
    (menu,) = await line.sends(*wa.text("/start"))
    assert read_line(menu).startswith(EN("start.welcome"))
    (first,) = await line.taps(menu, EN("menu.report"))
    assert EN("report.ask_what") in read_line(first)
    (helped,) = await line.sends(*wa.text("help"))
    assert read_line(helped) == EN("chat.help")
    (cancelled,) = await line.sends(*wa.text("Cancel"))
    assert read_line(cancelled) == EN("report.cancelled")
    (nothing,) = await line.sends(*wa.text("/cancel"))
    assert read_line(nothing) == EN("report.nothing_to_cancel")
    (unknown,) = await line.sends(*wa.text("/link K7"))
    assert read_line(unknown) == EN("chat.unknown_command")


async def test_a_button_of_a_step_no_longer_on_screen_is_stale(line):
    (when,) = await line.sends(*wa.text("a boy near the river"))
    await line.taps(when, EN("button.when_now"))
    (stale,) = await line.taps(when, EN("button.when_now"))
    assert read_line(stale) == EN("report.stale_button")


async def test_erasing_the_person_removes_their_conversation_state(line, sessions):
    await line.sends(*wa.text("a boy by the river"))
    async with sessions() as session:
        (state,) = (await session.scalars(select(FsmState))).all()
        tipster = (await session.scalars(select(Tipster))).one()
    assert state.key.startswith("whatsapp:") and line.phone not in state.key
    assert state.state == "Report:when"
    async with sessions() as session:
        erased = await erase_identity(
            session, TEST_VAULT, tipster_id=tipster.id, actor_id=None, actor_role="admin"
        )
    assert erased.conversation_states == 1
    async with sessions() as session:
        assert (await session.scalars(select(FsmState))).all() == []


async def test_over_the_message_rate_the_person_is_told_once_and_the_rest_not_read(line):
    line.processor.services.limits = Limits(messages_per_minute=2)
    await line.types("a boy by the river", "he wore a blue cap")
    (slow,) = await line.sends(*wa.text("and a red scarf"))
    assert read_line(slow) == EN("limits.slow_down")
    assert await line.sends(*wa.text("and black shoes")) == []
