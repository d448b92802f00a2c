"""/forget: a tipster erases their own identity; tips stay, and nothing at rest links them.

Runs on SQLite and PostgreSQL; the scan is tests/privacy_scan.py's generic one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from moderation.review.decisions import Outcome, decide
from storage.models import AuditEvent, OutboxMessage, StaffUser, Tip, Tipster, TipsterIdentity
from tests.bot.fixtures import assert_all_processed, fsm_state, sent_ref
from tests.privacy_scan import Person, only_in_vault, scan_sqlite_files, scan_tables

PERSON = Person(
    user_id=7412963085,
    first_name="Qiaolian",
    last_name="Zhangsmithova",
    username="qz_watcher_77",
    phone="+8613912345678",
)
CHAT = PERSON.user_id
USER = PERSON.user()


async def full_tip(chat, fake) -> str:  # type: ignore[no-untyped-def]
    """A tipster shares their contact, then sends a whole report agreeing to be contacted."""
    await chat.send(
        fake.contact_message(
            CHAT, PERSON.phone, PERSON.first_name, last_name=PERSON.last_name, user=USER
        )
    )
    await chat.send(
        fake.text_message(CHAT, "A girl in a yellow raincoat by the north gate", user=USER)
    )
    await chat.press(CHAT, "I don't know", user=USER)
    await chat.press(CHAT, "Skip", user=USER)  # where
    await chat.press(CHAT, "Skip", user=USER)  # media
    await chat.press(CHAT, "Yes, you may message me here", user=USER)
    await chat.press(CHAT, "Send report", user=USER)
    return sent_ref(chat.last_text(CHAT))


def keyed_needles(vault) -> list[str]:  # type: ignore[no-untyped-def]
    """Every lookup key derived from the person's Telegram id (whoever holds the vault key
    could recompute these): after erasure none of them may remain either."""
    return [
        vault.lookup_hash("telegram", str(PERSON.user_id)),
        vault.conversation_key(chat_id=CHAT, user_id=PERSON.user_id),
        str(vault.chat_key(CHAT)),
    ]


async def ask_a_question(sessions, ref: str) -> None:  # type: ignore[no-untyped-def]
    """A moderator asks the tipster something: a message waits in the outbox for them."""
    async with sessions() as session:
        staff = StaffUser(email="mod@example.org", role="moderator", password_hash="x")
        session.add(staff)
        await session.commit()
        await decide(
            session,
            staff=staff,
            tip_ref=ref,
            outcome=Outcome.NEEDS_INFO,
            question="Which way did she walk?",
        )


async def test_forget_erases_the_identity_after_the_button_and_keeps_the_tip(
    chat, fake, sessions, engine, services
):
    ref = await full_tip(chat, fake)
    await ask_a_question(sessions, ref)
    before = only_in_vault(await scan_tables(engine, PERSON.needles()))
    assert before == [], before  # identity only in the vault, even before erasure

    await chat.send(fake.command(CHAT, "forget", user=USER))
    assert "Erase who you are" in chat.last_text(CHAT)
    await chat.press(CHAT, "No, keep", user=USER)
    assert chat.last_text(CHAT) == "Nothing was erased."
    async with sessions() as session:
        assert await session.scalar(select(func.count(TipsterIdentity.id))) == 1

    await chat.send(fake.command(CHAT, "forget", user=USER))
    await chat.press(CHAT, "Yes, erase", user=USER)
    assert chat.last_text(CHAT).startswith("Done: Tipline no longer knows who you are")
    await assert_all_processed(chat)

    async with sessions() as session:
        assert await session.scalar(select(func.count(TipsterIdentity.id))) == 0
        tip = await session.scalar(select(Tip).where(Tip.ref == ref))
        assert tip is not None and tip.text.startswith("A girl") and not tip.contact_allowed
        waiting = await session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.recipient == f"tipster:{tip.tipster_id}",
                OutboxMessage.status != "sent",
            )
        )
        assert waiting == 0
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "identity.erased")
        )
        assert event is not None and event.actor_role == "tipster"
        assert event.detail["identity"] == 1 and event.detail["pending_messages"] == 1
        assert event.detail["contact_permissions"] == 1
    assert await fsm_state(chat, CHAT) is None
    await assert_nothing_of_them(engine, services.vault)

    # Writing again starts a new, unlinked pseudonym.
    await chat.send(fake.command(CHAT, "start", user=USER))
    async with sessions() as session:
        names = (await session.scalars(select(Tipster.pseudonym).order_by(Tipster.id))).all()
    assert len(names) == 2 and names[0] != names[1]


async def assert_nothing_of_them(engine, vault) -> None:  # type: ignore[no-untyped-def]
    """The generic scan finds neither the identity nor a key derived from it; on SQLite, once
    the connections are closed, neither do the raw bytes of the file and its WAL."""
    needles = PERSON.needles() + keyed_needles(vault)
    assert await scan_tables(engine, needles) == []
    if engine.dialect.name == "sqlite":
        await engine.dispose()  # the last connection checkpoints the WAL and removes it
        database = Path(make_url(str(engine.url)).database or "")
        assert scan_sqlite_files(database, needles) == []
