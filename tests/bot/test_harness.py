"""The bot stack end to end through the inbox: a first sanity transcript."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import InboxUpdate, Tipster

CHAT = 1001


async def test_start_greets_in_the_tipsters_language_and_marks_the_update_done(chat, fake):
    await chat.send(fake.command(CHAT, "start"))
    assert "missing child" in chat.last_text(CHAT)
    await chat.send(fake.command(CHAT + 1, "start", language_code="zh-hans"))
    assert "走失" in chat.last_text(CHAT + 1)
    async with chat.sessions() as session:
        statuses = (await session.scalars(select(InboxUpdate.status))).all()
        pseudonyms = (await session.scalars(select(Tipster.pseudonym))).all()
    assert statuses == ["done", "done"]
    assert len(pseudonyms) == 2 and all(p.startswith("T-") for p in pseudonyms)


async def test_same_update_twice_has_one_effect(chat, fake):
    update = fake.command(CHAT, "start")
    await chat.send(update)
    await chat.send(update)
    assert len(chat.messages(CHAT)) == 1


async def test_group_messages_are_ignored(chat, fake):
    fake.register_chat(-100200, type="supergroup", title="Some group")
    await chat.send(fake.command(-100200, "start"))
    assert chat.messages(-100200) == []
