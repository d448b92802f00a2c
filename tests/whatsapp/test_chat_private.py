"""The private-chat commands on WhatsApp, through the chat router into the same functions
Telegram's adapters call: /status, /add, /language, /forget, /mute, and the answer to a
moderator's question. On SQLite and PostgreSQL, against the fake Graph API."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from core.i18n import Texts
from handlers.engine.inputs import Command, Text, read_text
from moderation.review.decisions import Outcome, decide
from storage.models import StaffUser, Tip, TipsterIdentity
from tests.fakes.whatsapp import payloads as wa
from tests.keys import TEST_VAULT
from tests.web import dashboard_world, front_door
from tests.whatsapp.chats import line as read_line
from tests.whatsapp.chats import whatsapp_line

EN, ZH = Texts("en", "chat"), Texts("zh-Hans", "chat")
SIGHTING = "A boy in a yellow raincoat at the bus stop"
QUESTION = "Which way did the bus go?"


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


@pytest.fixture
async def moderator(engine, sessions, tmp_path) -> StaffUser:
    """A moderator invited and enrolled on the dashboard."""
    built = dashboard_world.build_context(engine, sessions, tmp_path / "dashboard")
    async for client in dashboard_world.client_for(dataclasses.replace(built, vault=TEST_VAULT)):
        admin = await front_door.first_admin(client, sessions)
        signed = await front_door.invited(
            client, sessions, admin, email="mod@example.org", role="moderator"
        )
    return signed.user


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("/status K7Q2-9XRA", Command("status", "K7Q2-9XRA")),
        ("/add@tipline_bot  K7Q2-9XRA ", Command("add", "K7Q2-9XRA")),
        ("Status", Command("status")),
        ("family_ABCDEFGH23456789", Command("start", "family_ABCDEFGH23456789")),
        ("case_K7Q2-9XRA", Command("start", "case_K7Q2-9XRA")),
        ("status of the boy unknown", Text("status of the boy unknown")),
        ("family_ABC and more words", Text("family_ABC and more words")),
    ],
)
def test_typed_commands_carry_their_argument_and_a_code_alone_is_start(typed, read):
    assert read_text(typed) == read


async def test_status_lists_ones_tips_and_tells_one_tip_but_nothing_of_others(line):
    ref = await line.reports(SIGHTING)
    (listed,) = await line.sends(*wa.text("status"))
    assert EN("status.title") in read_line(listed) and ref in read_line(listed)
    (one,) = await line.sends(*wa.text(f"/status {ref}"))
    assert read_line(one).startswith(
        EN("status.line", ref=ref, status=EN("status.received"), date="")[:-1]
    )
    line.phone = "447700900999"
    (other,) = await line.sends(*wa.text(f"/status {ref}"))
    assert read_line(other) == EN("status.not_found")


async def test_add_puts_text_and_a_place_on_a_sent_tip_until_done(line, sessions):
    ref = await line.reports(SIGHTING)
    (asked,) = await line.sends(*wa.text(f"/add {ref}"))
    assert EN("add.ask", ref=ref) in read_line(asked)
    (added,) = await line.sends(*wa.text("He had a blue umbrella"))
    assert EN("add.added", ref=ref) in read_line(added)
    (placed,) = await line.sends(*wa.location(34.2701, 108.9502, "Bell Tower"))
    assert EN("add.added", ref=ref) in read_line(placed)
    (done,) = await line.taps(placed, EN("button.done"))
    assert read_line(done).startswith(EN("add.done", ref=ref))
    (report,) = await line.sends(*wa.text("a girl alone on the bridge"))
    assert EN("report.ask_when") in read_line(report)  # no longer adding: a new report
    async with sessions() as session:
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
    assert tip is not None
    text, place = tip.details["additions"]
    assert text["text"] == "He had a blue umbrella" and place["place"]["lat"] == 34.2701


async def test_language_switches_the_replies_to_chinese(line):
    (offer,) = await line.sends(*wa.text("/language"))
    assert EN("language.choose") in read_line(offer)
    (switched,) = await line.taps(offer, "简体中文")
    assert read_line(switched) == ZH("language.set")
    (helped,) = await line.sends(*wa.text("帮助"))
    assert read_line(helped) == ZH("chat.help")


async def test_forget_asks_first_then_erases_the_number_so_nothing_more_is_sent(line, sessions):
    (asked,) = await line.sends(*wa.text("/forget"))
    assert EN("forget.ask") in read_line(asked) and "Telegram" not in read_line(asked)
    (kept,) = await line.taps(asked, EN("forget.no"))
    assert read_line(kept) == EN("forget.kept")
    (again,) = await line.sends(*wa.text("/forget"))
    assert await line.taps(again, EN("forget.yes")) == []  # the number is gone with the rest
    async with sessions() as session:
        assert (await session.scalars(select(TipsterIdentity))).all() == []


async def test_mute_without_a_family_link_says_so(line):
    (muted,) = await line.sends(*wa.text("mute"))
    assert read_line(muted) == EN("family.not_linked")


async def test_a_moderators_question_is_answered_on_whatsapp(line, sessions, moderator):
    ref = await line.reports(SIGHTING)
    async with sessions() as session:
        await decide(
            session, staff=moderator, tip_ref=ref, outcome=Outcome.NEEDS_INFO, question=QUESTION
        )
    (question,) = await line.settle()
    assert QUESTION in read_line(question)
    (asked,) = await line.taps(question, EN("notify.answer_button"))
    assert EN("answer.ask", ref=ref) in read_line(asked)
    (saved,) = await line.sends(*wa.text("Towards the railway station"))
    assert read_line(saved).startswith(EN("answer.saved", ref=ref))
    async with sessions() as session:
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
    assert tip is not None
    assert [a["text"] for a in tip.details["answers"]] == ["Towards the railway station"]
