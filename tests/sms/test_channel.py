"""SmsChannel: replies as `sms` outbox rows in the caller's transaction (nothing before its
commit), numbered choices remembered as the tipster's menu, and no photo or location button."""

from __future__ import annotations

from sqlalchemy import select

from core.i18n import Texts
from core.identity.tipsters import get_or_create_tipster
from core.sms.menus import menu_of, remember
from handlers.engine.channel import button, keyboard
from handlers.engine.keys import nav_row
from handlers.sms.channel import SmsChannel
from storage.models import OutboxMessage
from tests.keys import TEST_VAULT

EN = Texts("en")


async def _tipster(sessions) -> int:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            TEST_VAULT,
            channel="sms",
            external_id="+447700900123",
            identity={},
            language="en",
        )
        return tipster.id


async def _rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.scalars(stmt)).all())


async def test_replies_are_sms_rows_and_the_menu_commits_with_them(sessions):
    tipster = await _tipster(sessions)
    buttons = keyboard([button("Now", "r", "when", "now")], nav_row(EN, "r", "when"))
    async with sessions() as session:
        channel = SmsChannel(session, EN, "sms-reply:7")
        await channel.send_text(tipster, "Thank you.")
        await channel.send_text(tipster, "When did you see the child?", buttons)
        assert await _rows(sessions) == []  # nothing before the commit
        await session.commit()
    rows = await _rows(sessions)
    assert [(r.channel, r.recipient, r.idempotency_key) for r in rows] == [
        ("sms", f"tipster:{tipster}", "sms-reply:7:1"),
        ("sms", f"tipster:{tipster}", "sms-reply:7:2"),
    ]
    assert (
        rows[1]
        .payload["text"]
        .endswith("1 Now\n2 Cancel\n0 Back\nReply with a number, 0 to go back.")
    )
    async with sessions() as session:
        assert await menu_of(session, tipster) == {
            "1": "r:when:now",
            "2": "r:when:cancel",
            "0": "r:when:back",
        }


async def test_a_rolled_back_message_leaves_no_reply_and_the_old_menu(sessions):
    tipster = await _tipster(sessions)
    async with sessions() as session:
        await remember(session, tipster, {"1": "old:1"})
        await session.commit()
        channel = SmsChannel(session, EN, "sms-reply:8")
        await channel.send_text(tipster, "Which?", keyboard([button("New", "new", "1")]))
        await session.rollback()
        assert await menu_of(session, tipster) == {"1": "old:1"}
    assert await _rows(sessions) == []


async def test_no_photo_goes_but_its_caption_and_a_location_request_asks_to_type(sessions):
    tipster = await _tipster(sessions)
    async with sessions() as session:
        await remember(session, tipster, {"1": "old:1"})
        channel = SmsChannel(session, EN, "sms-reply:9")
        await channel.send_photo(tipster, "a" * 64)
        await channel.send_photo(tipster, "a" * 64, "Is this the child?")
        await channel.ask_location(tipster, "Where did you see her?")
        await session.commit()
        assert await menu_of(session, tipster) == {}  # a typed "1" is a place now
    texts = [r.payload["text"] for r in await _rows(sessions)]
    assert texts == [
        "Is this the child?",
        "Where did you see her?\nType the place: a street, a landmark or a town.",
    ]
