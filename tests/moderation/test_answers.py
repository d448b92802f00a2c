"""Answers that come back: answered status, its rank in the queue, the asker's badge count, the
moderators' group notice, and asking again. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core.errors import NotFound
from moderation.review.answers import GroupNotice, count_answers_for, receive_answer
from moderation.review.decisions import Outcome, decide
from moderation.review.queue import QueueFilter, claim_next, list_queue
from storage.models import AuditEvent, OutboxMessage, Tip, Tipster
from tests.moderation import factories

_serial = itertools.count(1)


async def _staff(session, role: str = "moderator", email: str | None = None):
    """A staff member with an e-mail of their own (factories' id()-based ones may repeat)."""
    return await factories.staff(
        session, role, email=email or f"{role}-{next(_serial)}@example.org"
    )


GROUP = GroupNotice(chat_id=-1001234567890, base_url="https://tipline.example/")


async def _asked(session, *, score: float = 40.0, email: str | None = None):
    """A tip whose tipster a moderator asked a question; (moderator, tipster, tip)."""
    mod = await _staff(session, email=email)
    person = await factories.tipster(session)
    row = await factories.tip(session, tipster=person, score=score, text="call me on 0612345678")
    await decide(
        session, staff=mod, tip_ref=row.ref, outcome=Outcome.NEEDS_INFO, question="Which bus?"
    )
    return mod, person, row


async def _group_messages(session) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.recipient == f"chat:{GROUP.chat_id}")
    return list((await session.scalars(stmt.order_by(OutboxMessage.id))).all())


async def test_an_answer_puts_the_tip_back_as_answered_and_counts_for_the_asker(sessions):
    async with sessions() as session:
        mod, person, row = await _asked(session, email="wang.fang@example.org")
        other = await _staff(session)
        assert await count_answers_for(session, staff_id=mod.id) == 0
        await receive_answer(
            session,
            ref=row.ref.lower(),
            tipster_id=person.id,
            text="The number 7 bus, she said +33 6 12 34 56 78",
            group=GROUP,
        )
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
        assert (tip.status, tip.answered, tip.asked_by) == ("answered", True, mod.id)
        assert tip.details["answers"][0]["text"].startswith("The number 7 bus")
        assert await count_answers_for(session, staff_id=mod.id) == 1
        assert await count_answers_for(session, staff_id=other.id) == 0
        [notice] = await _group_messages(session)
        [event] = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "tip.answer"))
        ).all()
    text = notice.payload["text"]
    assert text.startswith(f"💬 Tip {row.ref}: the tipster answered wang.fang's question")
    assert "The number 7 bus, she said [hidden]" in text  # phone numbers hidden, as on cards
    assert f"https://tipline.example/tips/{row.ref}" in text
    assert notice.payload["protect_content"] is True
    assert (event.object_ref, event.detail) == (row.ref, {"answers": 1, "back_in_queue": True})


async def test_answered_tips_rank_above_received_tips_of_the_same_score(sessions):
    async with sessions() as session:
        older = await factories.tip(session, score=40.0)
        _, person, answered = await _asked(session, score=40.0)
        better = await factories.tip(session, score=41.0)
        await receive_answer(session, ref=answered.ref, tipster_id=person.id, text="bus 7")
        rows = await list_queue(session, filters=QueueFilter())
        staff = await _staff(session)
        first = await claim_next(session, staff_id=staff.id)
        second = await claim_next(session, staff_id=staff.id)
    assert [r.ref for r in rows] == [better.ref, answered.ref, older.ref]
    assert [first, second] == [better.id, answered.id]


async def test_the_asker_asks_again_for_as_many_rounds_as_needed(sessions):
    async with sessions() as session:
        mod, person, row = await _asked(session)
        await receive_answer(session, ref=row.ref, tipster_id=person.id, text="bus 7", group=GROUP)
        colleague = await _staff(session)
        await decide(
            session,
            staff=colleague,
            tip_ref=row.ref,
            outcome=Outcome.NEEDS_INFO,
            question="What time?",
        )
        tip = await session.get(Tip, row.id)
        await session.refresh(tip)
        assert (tip.status, tip.answered, tip.asked_by) == ("needs_info", False, colleague.id)
        assert await count_answers_for(session, staff_id=mod.id) == 0
        await receive_answer(session, ref=row.ref, tipster_id=person.id, text="5 pm", group=GROUP)
        assert await count_answers_for(session, staff_id=colleague.id) == 1
        await decide(session, staff=colleague, tip_ref=row.ref, outcome=Outcome.PROMISING)
        assert await count_answers_for(session, staff_id=colleague.id) == 0
        notices = await _group_messages(session)
    async with sessions() as session:
        tip = await session.get(Tip, row.id)
    assert [a["text"] for a in tip.details["answers"]] == ["bus 7", "5 pm"]
    assert tip.status == "promising" and not tip.answered
    assert [n.idempotency_key.rsplit(":", 1)[1] for n in notices] == ["1", "2"]


async def test_a_late_answer_to_a_decided_tip_is_kept_but_does_not_reopen_it(sessions):
    async with sessions() as session:
        mod, person, row = await _asked(session)
        await decide(session, staff=mod, tip_ref=row.ref, outcome=Outcome.NOT_RELEVANT)
        await receive_answer(session, ref=row.ref, tipster_id=person.id, text="late", group=GROUP)
        tip = await session.get(Tip, row.id)
        await session.refresh(tip)
        assert (tip.status, tip.answered) == ("not_relevant", False)
        assert tip.details["answers"][0]["text"] == "late"
        assert await _group_messages(session) == []
        assert await count_answers_for(session, staff_id=mod.id) == 0


async def test_without_a_group_the_answer_still_comes_back_and_a_stranger_changes_nothing(
    sessions,
):
    async with sessions() as session:
        _, person, row = await _asked(session)
        stranger = Tipster(pseudonym="T-STRANGER")  # factories.tipster's ids may repeat
        session.add(stranger)
        await session.commit()
        ref, tip_id, stranger_id, person_id = row.ref, row.id, stranger.id, person.id
    async with sessions() as session:
        with pytest.raises(NotFound):
            await receive_answer(session, ref=ref, tipster_id=stranger_id, text="ha")
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip.status == "needs_info" and "answers" not in tip.details
        await receive_answer(session, ref=ref, tipster_id=person_id, text="bus 7")
    async with sessions() as session:
        assert (await session.get(Tip, tip_id)).status == "answered"
        to_chats = select(OutboxMessage.id).where(OutboxMessage.recipient.like("chat:%"))
        assert await session.scalar(to_chats) is None
