"""Admins see dead outbox rows and dead inbox updates, and retrying one is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.delivery.inbox import admit
from moderation.dead_letters import list_dead_letters, retry_dead_letter
from storage.models import AuditEvent, InboxUpdate, OutboxMessage
from tests.keys import CHAT_KEY
from tests.moderation import factories


async def test_admin_sees_and_retries_dead_letters(sessions):
    async with sessions() as session:
        admin = await factories.staff(session, role="admin")
        row = OutboxMessage(
            idempotency_key="k1",
            channel="telegram",
            recipient="tipster:1",
            payload={"text": "hidden"},
            status="dead",
            attempts=8,
            last_error="Forbidden: bot was blocked by the user",
        )
        session.add(row)
        await admit(
            session, chat_key=CHAT_KEY, updates=[{"update_id": 5, "message": {"text": "x"}}]
        )
        await session.execute(InboxUpdate.__table__.update().values(status="dead", attempts=5))
        await session.commit()
        found = await list_dead_letters(session, staff=admin)
        assert [m.id for m in found.messages] == [row.id]
        assert [u.update_id for u in found.updates] == [5]
        assert await retry_dead_letter(session, staff=admin, kind="outbox", item_id=row.id) == 1
        assert await retry_dead_letter(session, staff=admin, kind="inbox", item_id=5) == 1
        status = await session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.id == row.id)
        )
        assert status == "pending"
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert {"outbox.retry", "inbox.retry"} <= set(actions)


async def test_a_moderator_cannot_see_dead_letters(sessions):
    async with sessions() as session:
        mod = await factories.staff(session)
        with pytest.raises(PermissionError):
            await list_dead_letters(session, staff=mod)
