"""Report a scam, end to end through the fake Telegram server: every family lead carries the
button; a press keeps one report, thanks the family with the money warning, and tells the
moderators' group through the outbox with the lead quoted; the dashboard's list has it.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.identity.vault import Vault
from core.limits import MemoryRateLimiter
from handlers.context import BotServices
from moderation.cases.scam_reports import list_scam_reports
from storage.models import AuditEvent, OutboxMessage, ScamReport
from storage.photostore import open_photo_stores
from tests.bot.conftest import geocoder
from tests.bot.test_family import (
    MOTHER,
    STRANGER,
    SUMMARY,
    _decide_with_summary,
    _deliver,
    _link,
    _staff_and_case,
    _tip_from_a_real_tipster,
)

MODERATORS = -1009001


@pytest.fixture
def stores(tmp_media):
    return open_photo_stores(tmp_media)


@pytest.fixture
def services() -> BotServices:
    """As tests/bot/conftest.py's, with a moderators' group configured."""
    return BotServices(
        vault=Vault(Vault.new_key()),
        geocoder=geocoder(),
        limiter=MemoryRateLimiter(),
        moderators_chat_id=MODERATORS,
    )


async def test_a_family_reports_a_lead_as_a_scam_and_the_moderators_get_it_quoted(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    await _deliver(chat, services, sessions, stores)
    await chat.press(MOTHER, "Report a scam")
    assert "Never pay anyone" in chat.last_text(MOTHER)
    await chat.press(MOTHER, "Report a scam")
    assert "already reported" in chat.last_text(MOTHER)
    await _deliver(chat, services, sessions, stores)
    [group] = fake.calls("sendMessage", chat_id=MODERATORS)
    assert SUMMARY in group.params["text"] and tip.ref in group.params["text"]
    assert case.ref in group.params["text"] and "Scam report" in group.params["text"]
    async with sessions() as session:
        [report] = (await session.scalars(select(ScamReport))).all()
        audit = (await session.scalars(select(AuditEvent.action))).all()
        staff = await session.get(type(mod), mod.id)
        [listed] = await list_scam_reports(session, staff=staff)
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert (report.tip_id, report.case_id) == (tip.id, case.id)
    assert audit.count("family.scam_report") == 1
    assert listed.tip_ref == tip.ref and listed.forward.summary == SUMMARY
    assert len([r for r in rows if r.recipient == f"chat:{MODERATORS}"]) == 1


async def test_someone_not_in_the_family_cannot_report_its_lead(
    chat, fake, sessions, services, stores
):
    senior, mod, case = await _staff_and_case(sessions)
    await _link(chat, fake, sessions, senior, case, MOTHER)
    tip, _ = await _tip_from_a_real_tipster(chat, fake, sessions, stores, case)
    await _decide_with_summary(sessions, mod, tip)
    await _deliver(chat, services, sessions, stores)
    [(_, data)] = [b for b in chat.buttons(MOTHER) if "scam" in b[0].lower()]
    await chat.send(fake.text_message(STRANGER, "hello"))
    message_id = chat.messages(STRANGER)[-1].get("message_id") or 1
    await chat.send(fake.callback_query(STRANGER, message_id, data))
    assert chat.last_text(STRANGER) == "This lead is not available."
    async with sessions() as session:
        assert (await session.scalars(select(ScamReport))).all() == []
