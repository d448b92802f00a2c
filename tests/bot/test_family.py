"""Families in the bot, end to end through the fake Telegram server: linking by deep link with the
money warning, a vetted lead through the relay (no tipster identity, raw text, coordinates or EXIF
GPS in it; protected content), one-tap feedback, /mute and /unmute, and chats that blocked the
bot or are gone parked with a reason while other families still get theirs.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sender import TelegramSender
from core.delivery.packets import FORMAT
from core.i18n import Texts
from handlers.tipster.telegram.family import FamilyAnswer
from moderation.cases.families import create_family_link
from moderation.forwarding.family_leads import feedback_buttons
from moderation.forwarding.forward import FamilyLead
from moderation.review.decisions import Outcome, decide
from storage.models import (
    AuditEvent,
    Case,
    FamilyFeedback,
    Forward,
    OutboxMessage,
    Subscription,
    Tip,
    TipPhoto,
    Tipster,
)
from storage.photostore import open_photo_stores
from storage.types import utcnow
from tests.bot.fixtures import texts_in
from tests.moderation import factories
from tests.web.dashboard_world import jpeg
from workers.relay import Relay, Retry

TIPSTER_CHAT, MOTHER, FATHER, UNCLE, STRANGER = 7001, 7101, 7102, 7103, 7199
TIP_TEXT = "Saw a girl crying by the grey van at Lianhu Road number 18, call me on 13800138000"
LAT, LON = 34.261234, 108.942345
EXIF_LAT, EXIF_LON = 34.265432, 108.954321
SUMMARY = "A girl who may be Li Na was seen with an adult beside a van this afternoon."
FAST = Retry(max_attempts=3, base=0.05, cap=0.1)


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


async def _staff_and_case(sessions):
    async with sessions() as session:
        senior = await factories.staff(session, "senior_moderator")
        mod = await factories.staff(session, "moderator")
        case = Case(full_name="Li Na", status="verified")
        session.add(case)
        await session.commit()
        return senior, mod, case


async def _link(chat, fake, sessions, senior, case, chat_id: int) -> str:
    async with sessions() as session:
        code = await create_family_link(session, staff=senior, case_ref=case.ref)
    await chat.send(fake.command(chat_id, "start", code.start_payload))
    return chat.last_text(chat_id)


async def _tip_from_a_real_tipster(chat, fake, sessions, stores, case) -> tuple[Tip, TipPhoto]:
    """A tipster who spoke to the bot (identity sealed in the vault), and their tip with a photo."""
    user = fake.user(TIPSTER_CHAT, first_name="Samantha", username="secret_sam")
    await chat.send(fake.command(TIPSTER_CHAT, "start", user=user))
    async with sessions() as session:
        tipster = await session.scalar(select(Tipster).order_by(Tipster.id.desc()).limit(1))
        tip = await factories.tip(
            session,
            text=TIP_TEXT,
            tipster=tipster,
            case_id=case.id,
            lat=LAT,
            lon=LON,
            place_text="Xi'an, Shaanxi, China",
            location_source="pin",
            seen_at=utcnow() - timedelta(hours=2),
            details={"place": {"label": "Xi'an, Shaanxi, China", "timezone": "Asia/Shanghai"}},
        )
        photo = TipPhoto(
            tip_id=tip.id,
            status="processed",
            mime_type="image/jpeg",
            original_sha256=stores.originals.put(jpeg((10, 200, 10), size=24)),
            display_sha256=stores.display.put(jpeg((10, 200, 10))),
            exif_lat=EXIF_LAT,
            exif_lon=EXIF_LON,
        )
        session.add(photo)
        await session.commit()
        return tip, photo


async def _outbox(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _unsettled(sessions) -> bool:
    rows = await _outbox(sessions)
    return any(r.status in ("pending", "sending") and r.channel == "telegram" for r in rows)


async def _deliver(chat, services, sessions, stores) -> list[OutboxMessage]:
    """Run the relay with the real Telegram sender until the family rows are settled."""
    sender = TelegramSender(
        bot=chat.bot,
        vault=services.vault,
        sessions=sessions,
        display_store=stores.display,
        request_timeout=2,
    )
    relay = Relay(
        sessions=sessions, senders={"telegram": sender}, retry=FAST, send_timeout=5, lease=30
    )
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(20):
            while await _unsettled(sessions):  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return await _outbox(sessions)


async def _decide_with_summary(sessions, mod, tip, photo=None, outcome=Outcome.PROMISING):
    async with sessions() as session:
        staff = await session.get(type(mod), mod.id)
        await decide(
            session,
            staff=staff,
            tip_ref=tip.ref,
            outcome=outcome,
            family=FamilyLead(
                summary=SUMMARY,
                coarse_place="",
                include_photo_sha=photo.display_sha256 if photo else None,
            ),
        )


# --- linking -----------------------------------------------------------------------------------


async def test_a_family_deep_link_links_the_person_and_warns_about_money(chat, fake, sessions):
    senior, _, case = await _staff_and_case(sessions)
    reply = await _link(chat, fake, sessions, senior, case, MOTHER)
    assert "Li Na" in reply and case.ref in reply
    assert "never asks for money" in reply and "/mute" in reply
    again = await _link(chat, fake, sessions, senior, case, MOTHER)
    assert "already linked" in again and "never asks for money" in again
    async with sessions() as session:
        [sub] = (await session.scalars(select(Subscription))).all()
        audit = (await session.scalars(select(AuditEvent.action))).all()
    assert (sub.kind, sub.case_id, sub.paused) == ("family", case.id, False)
    assert audit.count("family.linked") == 2


async def test_a_used_or_made_up_family_link_is_refused_and_starts_nothing(chat, fake, sessions):
    senior, _, case = await _staff_and_case(sessions)
    async with sessions() as session:
        code = await create_family_link(session, staff=senior, case_ref=case.ref)
    await chat.send(fake.command(MOTHER, "start", code.start_payload))
    await chat.send(fake.command(STRANGER, "start", code.start_payload))
    assert "not valid or was already used" in chat.last_text(STRANGER)
    await chat.send(fake.command(STRANGER, "start", "family_MADEUPCODE"))
    assert "not valid" in chat.last_text(STRANGER)
    async with sessions() as session:
        subs = (await session.scalars(select(Subscription))).all()
    assert len(subs) == 1


async def test_a_case_poster_link_still_starts_a_report(chat, fake, sessions):
    await chat.send(fake.command(STRANGER, "start", "case_NOPE"))
    assert "family" not in chat.last_text(STRANGER).lower()


# --- leads -------------------------------------------------------------------------------------


async def test_a_vetted_lead_reaches_every_linked_family_member_and_says_nothing_it_must_not(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    await _link(chat, fake, sessions, senior, case, FATHER)
    tip, photo = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip, photo)
    rows = await _deliver(chat, services, sessions, stores)
    assert all(r.status == "sent" for r in rows if r.channel == "telegram")
    for family_chat in (MOTHER, FATHER):
        [sent] = fake.calls("sendPhoto", chat_id=family_chat)
        message = json.dumps(sent.params, ensure_ascii=False)
        assert SUMMARY in sent.params["caption"] and "Xi'an" in sent.params["caption"]
        assert "Asia/Shanghai" in sent.params["caption"]
        assert sent.params["protect_content"] in (True, "true")
        forbidden = [
            TIP_TEXT,
            "Lianhu",
            "13800138000",
            "Samantha",
            "secret_sam",
            str(TIPSTER_CHAT),
            "34.26",
            "108.94",
            "34.265",
            "108.954",
            tip.ref,
        ]
        assert [word for word in forbidden if word in message] == []
        # No pseudonym (T-XXXX-XXXX); a bare "T-" can occur in a random button token.
        assert not re.search(r"\bT-[A-Z0-9]{4}-[A-Z0-9]{4}\b", message)
    # Our clean copy, uploaded once; the other member's message reuses Telegram's file id.
    [upload] = fake.uploads(MOTHER) + fake.uploads(FATHER)
    assert upload.data == stores.display.get(photo.display_sha256)
    for row in rows:  # the outbox holds no chat ids of the family either
        assert str(MOTHER) not in row.recipient and str(MOTHER) not in json.dumps(row.payload)


async def test_the_family_answers_with_one_tap_and_that_is_kept_on_the_tip(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    await _deliver(chat, services, sessions, stores)
    labels = [label for label, _ in chat.buttons(MOTHER)]
    assert labels == ["That's my child", "Not my child", "Not sure", "⚠️ Report a scam"]
    await chat.press(MOTHER, "Not sure")
    assert "keep looking" in chat.last_text(MOTHER)
    await chat.press(MOTHER, "That's my child")
    assert "told at once" in chat.last_text(MOTHER)
    async with sessions() as session:
        [answer] = (await session.scalars(select(FamilyFeedback))).all()
        tip_row = await session.get(Tip, tip.id)
        pages = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "oncall"))
        ).all()
    assert answer.answer == "mine"
    assert tip_row.details["family_feedback"]["mine"] == 1
    assert len(pages) == 1 and tip.ref in pages[0].payload["text"]


async def test_someone_elses_lead_button_tells_them_nothing(chat, fake, sessions, stores):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    async with sessions() as session:
        forward = await session.scalar(select(Forward).where(Forward.audience == "family"))
    await chat.send(fake.text_message(STRANGER, "hello"))
    message_id = chat.messages(STRANGER)[-1].get("message_id") or 1
    data = FamilyAnswer(forward=forward.id, answer="mine").pack()
    await chat.send(fake.callback_query(STRANGER, message_id, data))
    assert chat.last_text(STRANGER) == "This lead is not available."
    async with sessions() as session:
        assert (await session.scalars(select(FamilyFeedback))).all() == []


def test_the_domain_packs_feedback_buttons_the_way_the_handler_reads_them():
    rows = feedback_buttons(Texts("en"), 42)
    for _, data in (button for row in rows for button in row):
        parsed = FamilyAnswer.unpack(data)
        assert parsed.forward == 42 and data == parsed.pack()


async def test_mute_stops_leads_and_unmute_starts_them_again(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    await chat.send(fake.command(MOTHER, "mute"))
    assert "Paused" in chat.last_text(MOTHER)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    await _deliver(chat, services, sessions, stores)
    assert not [t for t in texts_in(chat, MOTHER) if t.startswith("A possible")]
    await chat.send(fake.command(MOTHER, "unmute"))
    assert "On again" in chat.last_text(MOTHER)
    await chat.send(fake.command(STRANGER, "mute"))
    assert "not linked to a case" in chat.last_text(STRANGER)
    async with sessions() as session:
        second = await factories.tip(session, text="another", case_id=case.id, place_text="Xi'an")
    await _decide_with_summary(sessions, mod, second)
    await _deliver(chat, services, sessions, stores)
    assert chat.last_text(MOTHER).startswith("A possible sighting of Li Na")


async def test_blocked_and_deleted_family_chats_are_parked_with_a_reason_and_others_still_get_it(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    for family_chat in (MOTHER, FATHER, UNCLE):
        await _link(chat, fake, sessions, senior, case, family_chat)
    fake.block_chat(FATHER)
    fake.delete_chat(UNCLE)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    rows = await _deliver(chat, services, sessions, stores)
    family = [r for r in rows if r.idempotency_key.startswith("forward:")]
    family = [r for r in family if r.channel == "telegram"]
    by_status = sorted((r.status, (r.last_error or "")[:3]) for r in family)
    assert by_status == [("dead", "400"), ("dead", "403"), ("sent", "")]
    assert chat.last_text(MOTHER).startswith("A possible sighting of Li Na")
    assert all(r.attempts == 1 for r in family)  # permanent: not retried into the ground


async def test_the_police_packet_of_the_same_lead_keeps_what_the_family_never_sees(
    chat, fake, sessions, stores
):
    _, mod, case = await _staff_and_case(sessions)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    async with sessions() as session:
        police = await session.scalar(select(Forward).where(Forward.audience == "police"))
    packet = police.packet
    assert packet["format"] == FORMAT and packet["tip"]["text"] == TIP_TEXT
    assert packet["photos"][0]["exif"]["lat"] == EXIF_LAT
    dumped = json.dumps(packet)
    assert (
        "Samantha" not in dumped and "secret_sam" not in dumped and str(TIPSTER_CHAT) not in dumped
    )
