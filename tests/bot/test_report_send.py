"""Sending exactly once: double taps, a retried update, the tip rate limit and message floods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from storage.models import InboxUpdate, Tip
from tests.bot.fixtures import (
    all_tips,
    assert_all_processed,
    count_containing,
    fsm_state,
    sent_ref,
    tipsters,
    walk_to_summary,
)

CHAT = 3401


async def test_send_pressed_twice_makes_one_tip_and_shows_the_same_ref(chat, fake):
    await walk_to_summary(chat, fake, CHAT, text="Boy with a blue scooter")
    await chat.press(CHAT, "Send report")
    first = sent_ref(chat.last_text(CHAT))
    await chat.press(CHAT, "Send report")  # the same button again
    second = sent_ref(chat.last_text(CHAT))
    assert first == second
    tips = await all_tips(chat.sessions)
    assert [tip.ref for tip in tips] == [first]
    await assert_all_processed(chat)


async def test_an_update_retried_after_a_failed_reply_yields_the_same_tip(chat, fake):
    await walk_to_summary(chat, fake, CHAT, text="Girl on a red bicycle")
    fake.fail_next("sendMessage", status=500)
    await chat.press(CHAT, "Send report")
    [tip] = await all_tips(chat.sessions)  # committed before the reply failed
    assert await fsm_state(chat, CHAT) == "Report:confirm"  # rolled back: retried
    async with chat.sessions() as session:
        await session.execute(update(InboxUpdate).values(next_attempt_at=InboxUpdate.received_at))
        await session.commit()
    while await chat.processor.run_once():
        pass
    assert sent_ref(chat.last_text(CHAT)) == tip.ref
    assert [t.ref for t in await all_tips(chat.sessions)] == [tip.ref]
    assert await fsm_state(chat, CHAT) is None
    await assert_all_processed(chat)


async def test_a_sixth_tip_within_ten_minutes_is_refused_politely(chat, fake, services):
    await chat.send(fake.command(CHAT, "start"))
    [tipster] = await tipsters(chat.sessions)
    async with chat.sessions() as session:
        for n in range(services.limits.tips_per_window):
            session.add(Tip(channel="telegram", tipster_id=tipster.id, text=f"earlier {n}"))
        await session.commit()
    await walk_to_summary(chat, fake, CHAT, text="One more sighting")
    await chat.press(CHAT, "Send report")
    assert "several reports in a short time" in chat.last_text(CHAT)
    assert len(await all_tips(chat.sessions)) == 5
    assert await fsm_state(chat, CHAT) == "Report:confirm"  # the draft is kept
    async with chat.sessions() as session:  # ten minutes later, the earlier tips have aged out
        eleven_minutes_ago = datetime.now(UTC) - timedelta(minutes=11)
        await session.execute(update(Tip).values(created_at=eleven_minutes_ago))
        await session.commit()
    await chat.press(CHAT, "Send report")
    assert "Your report was sent" in chat.last_text(CHAT)
    assert len(await all_tips(chat.sessions)) == 6


async def test_a_flood_over_30_messages_a_minute_is_answered_once(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    await chat.press(CHAT, "Report a sighting")
    for n in range(40):
        await chat.send(fake.text_message(CHAT, f"message {n}"))
    assert count_containing(chat, CHAT, "sending messages very quickly") == 1
    assert len(chat.messages(CHAT)) == 30 + 1  # 30 answered (incl. /start and the press), 1 notice
    await assert_all_processed(chat)
