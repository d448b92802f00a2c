"""/case CODE: the public card with our clean photo through the relay; anything not public gets
the same answer as an unknown code; a found case says so and has no report button."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot.sender import TelegramSender
from storage.models import Case, CasePhoto, OutboxMessage
from storage.photostore import open_photo_stores
from tests.bot.fixtures import assert_all_processed, jpeg
from workers.relay import Relay, Retry

CHAT = 4201
FAST = Retry(base=0.05, cap=0.2)


async def _case(sessions, *, status: str, photo_sha: str | None = None, **fields) -> Case:
    async with sessions() as session:
        verified = datetime(2026, 11, 1, tzinfo=UTC) if status != "submitted" else None
        case = Case(
            full_name="Li Wei",
            status=status,
            verified_at=verified,
            age_years=7,
            sex="female",
            last_seen_place="Xi’an, Shaanxi, China",
            last_seen_at=datetime(2026, 10, 30, 8, 0, tzinfo=UTC),
            marks="Scar on the left knee",
            police_ref="PSB-SECRET-42",
            **fields,
        )
        session.add(case)
        await session.flush()
        if photo_sha:
            session.add(
                CasePhoto(
                    case_id=case.id,
                    status="ready",
                    display_sha256=photo_sha,
                    thumb_sha256=photo_sha,
                    original_sha256="0" * 64,
                )
            )
        await session.commit()
        return case


async def _deliver(chat, services, sessions, stores) -> list[OutboxMessage]:
    """Run the relay with the real Telegram sender until the outbox is settled."""
    sender = TelegramSender(
        bot=chat.bot, vault=services.vault, sessions=sessions, display_store=stores.display
    )
    relay = Relay(sessions=sessions, senders={"telegram": sender}, retry=FAST, send_timeout=5)
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(20):
            while True:
                async with sessions() as session:
                    rows = (await session.scalars(select(OutboxMessage))).all()
                if rows and all(r.status not in ("pending", "sending") for r in rows):
                    return list(rows)
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_public_case_card_is_our_clean_photo_with_public_facts_and_buttons(
    chat, fake, services, sessions, tmp_media
):
    services.base_url = "https://tipline.example"
    stores = open_photo_stores(tmp_media)
    clean = stores.display.put(jpeg(3))
    case = await _case(sessions, status="active", photo_sha=clean, contact_ciphertext=b"sealed")
    await chat.send(fake.command(CHAT, "case", case.ref.lower()))
    await chat.send(fake.command(CHAT, "case", case.ref))  # asked twice: two cards, not more
    [first, second] = await _deliver(chat, services, sessions, stores)
    assert first.status == second.status == "sent"
    photos = [c for c in fake.calls(chat_id=CHAT) if c.method == "sendPhoto"]
    assert len(photos) == 2
    caption = photos[0].params["caption"]
    assert caption.startswith("MISSING\nLi Wei\nAge: 7\nGirl / woman")
    assert "Last seen: Xi’an, Shaanxi, China, 2026-10-30" in caption
    assert "Marks: Scar on the left knee" in caption
    assert f"https://tipline.example/people/{case.ref}" in caption
    assert "PSB-SECRET-42" not in caption
    [upload] = fake.uploads(CHAT)  # uploaded once; the second card reuses Telegram's file id
    assert upload.data == jpeg(3)  # our display copy, never a tipster's file
    assert photos[1].params["photo"] == photos[0].result["photo"][-1]["file_id"]
    await chat.press(CHAT, "Report a sighting")
    assert f"Li Wei ({case.ref})" in chat.last_text(CHAT)
    assert "What did you see?" in chat.last_text(CHAT)
    await assert_all_processed(chat)


async def test_an_unverified_case_is_refused_exactly_like_an_unknown_code(chat, fake, sessions):
    hidden = await _case(sessions, status="submitted")
    await chat.send(fake.command(CHAT, "case", hidden.ref))
    refused = chat.last_text(CHAT)
    await chat.send(fake.command(CHAT, "case", "ZZZZ-ZZZZ"))
    assert (
        chat.last_text(CHAT)
        == refused
        == ("There is no public case with that code. Please check the code on the poster.")
    )
    assert "Li Wei" not in refused
    await chat.send(fake.command(CHAT, "case"))
    assert "/case K7Q2-9XRA" in chat.last_text(CHAT)
    async with sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []
    await assert_all_processed(chat)


async def test_a_found_case_says_thank_you_and_has_no_report_button(chat, fake, sessions):
    case = await _case(sessions, status="found")
    await chat.send(fake.command(CHAT, "case", case.ref))
    card = chat.last_text(CHAT)
    assert card.startswith("Found — thank you")
    assert chat.buttons(CHAT) == []
    await assert_all_processed(chat)


async def test_the_card_is_in_the_readers_language(chat, fake, sessions):
    case = await _case(sessions, status="verified", photo_sha=None)
    await chat.send(fake.command(CHAT, "case", case.ref, language_code="zh-hans"))
    card = chat.last_text(CHAT)
    assert card.startswith("寻人\nLi Wei\n年龄：7")
    assert [label for label, _ in chat.buttons(CHAT)] == ["报告目击线索"]
    await assert_all_processed(chat)
