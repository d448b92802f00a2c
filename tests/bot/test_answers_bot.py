"""Answers that come back, through the real bot and the real dashboard: a moderator asks in the
dashboard, the question reaches the tipster's chat on the fake Bot API, the tipster presses
"Answer" and types; the tip is back in the queue as answered, the asker's badge counts it, and
the moderators' group hears of it. SQLite and PostgreSQL.

The moderator's session is made by tests/web/dashboard_world (the sign-in and invitation flows
have their own tests); everything else goes through the product's doors.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.sender import TelegramSender
from core.delivery.outbox import Outgoing
from handlers import build_routers
from storage.models import OutboxMessage, Tip
from storage.photostore import PhotoStore
from tests.bot.fixtures import assert_all_processed, sent_ref
from tests.bot.harness import Transcript, build_transcript
from tests.web import dashboard_world as world

TIPSTER = 3801
GROUP = -1001234567811
BASE = "https://tipline.example"


@pytest.fixture
async def bot(fake, sessions, services, tmp_path) -> AsyncIterator[Transcript]:
    """The whole tipster bot with the moderators' group configured."""
    fake.register_chat(GROUP, type="supergroup", title="Moderators")
    services.moderators_chat_id = GROUP
    services.base_url = BASE
    transcript = build_transcript(
        fake=fake, sessions=sessions, services=services, routers=build_routers()
    )
    transcript.display = PhotoStore(tmp_path / "display")
    yield transcript
    await transcript.bot.session.close()


@pytest.fixture
async def web(engine, sessions, tmp_path):
    async for client in world.client_for(world.build_context(engine, sessions, tmp_path / "m")):
        yield client


async def _relay(bot: Transcript, services) -> int:
    """Send every pending outbox row with the real sender (the relay's job); how many."""
    sender = TelegramSender(
        bot=bot.bot, vault=services.vault, sessions=bot.sessions, display_store=bot.display
    )
    async with bot.sessions() as session:
        rows = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        ).all()
    for row in rows:
        message = Outgoing(row.id, row.idempotency_key, row.channel, row.recipient, row.payload, 0)
        assert (await sender.send(message)).kind == "sent"
        async with bot.sessions() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(status="sent")
            )
            await session.commit()
    return len(rows)


async def _report(bot: Transcript, fake) -> str:
    """A tip sent by a tipster who agrees to be asked questions."""
    await bot.send(fake.text_message(TIPSTER, "A girl in a red coat at the bus station"))
    await bot.press(TIPSTER, "I don't know")
    await bot.press(TIPSTER, "Skip")  # where
    await bot.press(TIPSTER, "Skip")  # media
    await bot.press(TIPSTER, "Yes, you may message me here")
    await bot.press(TIPSTER, "Send report")
    return sent_ref(bot.last_text(TIPSTER))


async def _ask(web, asker: world.Signed, ref: str, question: str) -> None:
    world.use(web, asker)
    response = await web.post(
        f"/tips/{ref}/decide",
        data={"csrf": asker.csrf, "outcome": "needs_info", "question": question},
    )
    assert response.status_code == 303, response.text[:300]


def _badge(html: str) -> str | None:
    found = re.search(r'<a id="answers-badge"[^>]*>([^<]+)</a>', html)
    return found.group(1) if found else None


async def test_a_tipsters_answer_brings_the_tip_back_and_the_asker_sees_the_badge(
    bot, fake, services, web, sessions
):
    ref = await _report(bot, fake)
    async with sessions() as session:
        asker = await world.sign_in_as(session, "moderator", email="zhao.lei@example.org")
        colleague = await world.sign_in_as(session, "moderator")
    await _ask(web, asker, ref, "Was she alone?")
    assert await _relay(bot, services) == 1
    assert "Was she alone?" in bot.last_text(TIPSTER)
    assert _badge((await web.get("/queue")).text) is None

    await bot.press(TIPSTER, "Answer")
    await bot.send(fake.text_message(TIPSTER, "No, a tall man held her hand"))
    assert f"answer was added to {ref}" in bot.last_text(TIPSTER)
    await assert_all_processed(bot)
    async with sessions() as session:
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
    assert (tip.status, tip.answered) == ("answered", True)

    world.use(web, asker)
    assert _badge((await web.get("/queue")).text) == "1 answer"
    page = (await web.get(f"/tips/{ref}")).text
    assert "The tipster answered" in page and "No, a tall man held her hand" in page
    world.use(web, colleague)
    assert _badge((await web.get("/queue")).text) is None

    assert await _relay(bot, services) == 1  # the notice to the moderators' group
    notice = bot.last_text(GROUP)
    assert notice.startswith(f"💬 Tip {ref}: the tipster answered zhao.lei's question")
    assert f"{BASE}/tips/{ref}" in notice

    # Asking again: the badge clears until the next answer comes back.
    await _ask(web, asker, ref, "What did the man wear?")
    assert _badge((await web.get("/queue")).text) is None
    await _relay(bot, services)
    await bot.press(TIPSTER, "Answer")
    await bot.send(fake.text_message(TIPSTER, "A black jacket"))
    assert _badge((await web.get("/queue")).text) == "1 answer"
