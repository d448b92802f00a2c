"""The alert worker widens alerts as time passes, and the alerts really reach volunteers: through
the relay and the real aiogram Bot to the fake Telegram server, as our display photo with the
"I saw this child — report" and "Pause alerts" buttons. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sender import TelegramSender
from core.alerts.dispatch import AlertPolicy, start_case_alerts
from core.identity.tipsters import get_or_create_tipster
from core.identity.vault import Vault
from storage.models import Case, CasePhoto, OutboxMessage, Subscription
from storage.photostore import PhotoStore
from storage.types import utcnow
from tests.core.photos import photo_corpus
from tests.fakes.telegram.server import FakeTelegram
from workers.alerts import AlertWorker
from workers.relay import Relay, Retry

RADII = (100.0, 200.0, 300.0, 500.0)
XIAN = (34.2610, 108.9420)
NEAR_CHAT, FARTHER_CHAT, FAR_CHAT = 5101, 5102, 5103


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(rate_limits=None) as server:
        yield server


@pytest.fixture
def vault() -> Vault:
    return Vault(Vault.new_key())


@pytest.fixture
def display(tmp_media) -> PhotoStore:
    return PhotoStore(tmp_media / "display")


async def volunteer_in_chat(sessions, vault, chat_id: int, km_north: float) -> int:
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            vault,
            channel="telegram",
            external_id=str(chat_id),
            identity={"chat_id": chat_id, "user_id": chat_id},
            language="en",
        )
        sub = Subscription(
            kind="volunteer",
            tipster_id=tipster.id,
            lat=XIAN[0] + km_north / 111.195,
            lon=XIAN[1],
            radius_km=500,
            language="en",
            timezone="Asia/Shanghai",
        )
        session.add(sub)
        await session.commit()
        return sub.id


async def case_with_photo(sessions, display, seen) -> Case:
    async with sessions() as session:
        case = Case(
            full_name="Li Na",
            status="active",
            age_years=6,
            last_seen_at=seen,
            last_seen_place="Lianhu, Xi'an",
            last_seen_lat=XIAN[0],
            last_seen_lon=XIAN[1],
        )
        session.add(case)
        await session.flush()
        sha = display.put(photo_corpus.plain_jpeg())
        session.add(CasePhoto(case_id=case.id, status="ready", display_sha256=sha))
        await session.commit()
        return case


async def deliver(sessions, fake, vault, display) -> list[OutboxMessage]:
    """Run the real relay until every Telegram row is settled."""
    bot = fake.bot()
    sender = TelegramSender(
        bot=bot, vault=vault, sessions=sessions, display_store=display, request_timeout=2
    )
    relay = Relay(
        sessions=sessions,
        senders={"telegram": sender},
        retry=Retry(max_attempts=3, base=0.05, cap=0.1),
        send_timeout=5,
        lease=10,
    )
    task = asyncio.create_task(relay.run_forever())
    try:
        async with asyncio.timeout(20):
            while True:
                async with sessions() as session:
                    rows = (await session.scalars(select(OutboxMessage))).all()
                if all(r.status not in ("pending", "sending") for r in rows):
                    return list(rows)
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()


async def test_alerts_reach_volunteers_as_our_photo_with_the_report_button_as_the_radius_grows(
    sessions, fake, vault, display
):
    await volunteer_in_chat(sessions, vault, NEAR_CHAT, 50)
    await volunteer_in_chat(sessions, vault, FARTHER_CHAT, 150)
    await volunteer_in_chat(sessions, vault, FAR_CHAT, 450)
    now = utcnow()
    case = await case_with_photo(sessions, display, seen=now - timedelta(minutes=30))
    async with sessions() as session:
        row = await session.get(Case, case.id)
        assert (
            await start_case_alerts(
                session, case=row, now=now, policy=AlertPolicy(radii_km=RADII, step_minutes=60)
            )
            == 1
        )
        await session.commit()
    assert all(r.status == "sent" for r in await deliver(sessions, fake, vault, display))
    [photo] = fake.calls("sendPhoto", chat_id=NEAR_CHAT)
    assert "Li Na, 6 years old" in photo.params["caption"]
    assert "Lianhu, Xi'an" in photo.params["caption"] and "About 50 km" in photo.params["caption"]
    keyboard = photo.params["reply_markup"]["inline_keyboard"]
    assert [[(b["text"], b["callback_data"]) for b in row] for row in keyboard] == [
        [("I saw this child — report", f"va:report:{case.ref}")],
        [("Pause alerts", f"va:pause:{case.ref}")],
    ]
    [upload] = fake.uploads(NEAR_CHAT)
    assert upload.data == display.get(await _photo_sha(sessions, case.id))  # our clean copy
    assert fake.calls("sendPhoto", chat_id=FARTHER_CHAT) == []

    # An hour later the radius is 200 km: the worker alerts the volunteer 150 km away, only.
    # (The relay sends what is due by the wall clock, so the case's clock moves back instead.)
    async with sessions() as session:
        row = await session.get(Case, case.id)
        row.alert_from_at -= timedelta(hours=1)
        await session.commit()
    worker = AlertWorker(sessions=sessions, radii=RADII, step_minutes=60, per_day=3)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # nothing new until the radius grows again
    await deliver(sessions, fake, vault, display)
    assert len(fake.calls("sendPhoto", chat_id=FARTHER_CHAT)) == 1
    assert len(fake.calls("sendPhoto", chat_id=NEAR_CHAT)) == 1
    assert fake.calls("sendPhoto", chat_id=FAR_CHAT) == []


async def test_the_worker_leaves_cases_that_are_not_active_alone(sessions, vault, display):
    await volunteer_in_chat(sessions, vault, NEAR_CHAT, 10)
    case = await case_with_photo(sessions, display, seen=utcnow() - timedelta(hours=3))
    async with sessions() as session:
        row = await session.get(Case, case.id)
        row.alert_lat, row.alert_lon, row.alert_from_at = XIAN[0], XIAN[1], row.last_seen_at
        row.status = "found"
        await session.commit()
    worker = AlertWorker(sessions=sessions, radii=RADII, step_minutes=60, per_day=3)
    assert await worker.run_once() == 0
    async with sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []


async def _photo_sha(sessions, case_id: int) -> str:
    async with sessions() as session:
        return await session.scalar(
            select(CasePhoto.display_sha256).where(CasePhoto.case_id == case_id)
        )
