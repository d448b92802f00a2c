"""A volunteer who joins, moves or resumes inside an area an active case's alerts already cover
hears about that case at once (the alert worker only reaches people as the radius grows).

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from core.alerts.volunteers import Area, set_paused, subscribe_volunteer
from storage.models import CaseAlert, OutboxMessage, Tipster
from storage.types import utcnow
from tests.core.alerts.test_dispatch import XIAN, active_case, north, start

NEAR = north(30)
FAR = north(800)


async def person(session) -> Tipster:
    tipster = Tipster(pseudonym=f"T-{secrets.token_hex(4)}", language="zh-Hans")
    session.add(tipster)
    await session.commit()
    return tipster


def area(at) -> Area:
    return Area(lat=at[0], lon=at[1], label="Xi'an, Shaanxi, China", timezone="Asia/Shanghai")


async def alerts_to(session, tipster) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.recipient == f"tipster:{tipster.id}")
    return list((await session.scalars(stmt)).all())


async def test_joining_inside_an_active_cases_area_brings_its_alert_once(session):
    case = await active_case(session, seen=utcnow())
    await start(session, case, utcnow())  # nobody to alert yet; the case covers 100 km
    newcomer, far_away = await person(session), await person(session)
    await subscribe_volunteer(
        session,
        tipster_id=newcomer.id,
        area=area(NEAR),
        radius_km=50,
        language="zh-Hans",
        quiet=None,
    )
    await subscribe_volunteer(
        session, tipster_id=far_away.id, area=area(FAR), radius_km=500, language="en", quiet=None
    )
    # Changing settings again does not repeat the alert.
    await subscribe_volunteer(
        session,
        tipster_id=newcomer.id,
        area=area(NEAR),
        radius_km=60,
        language="zh-Hans",
        quiet=None,
    )
    [alert] = await alerts_to(session, newcomer)
    assert alert.payload["method"] == "sendMessage" and "Li Na" in alert.payload["text"]
    assert await alerts_to(session, far_away) == []
    rows = (await session.scalars(select(CaseAlert).where(CaseAlert.case_id == case.id))).all()
    assert [(r.kind, round(r.distance_km)) for r in rows] == [("alert", 30)]


async def test_a_paused_volunteer_hears_on_resuming_and_not_while_paused(session):
    case = await active_case(session, seen=utcnow())
    tipster = await person(session)
    await subscribe_volunteer(
        session,
        tipster_id=tipster.id,
        area=area(north(300)),
        radius_km=50,
        language="en",
        quiet=None,
    )
    await set_paused(session, tipster_id=tipster.id, paused=True)
    await start(session, case, utcnow())
    case.alert_radius_km = 500.0  # as if the worker had grown it while the volunteer was paused
    await session.commit()
    assert await alerts_to(session, tipster) == []
    await set_paused(session, tipster_id=tipster.id, paused=False)
    assert await alerts_to(session, tipster) == []  # 300 km away: beyond their own 50 km
    await subscribe_volunteer(
        session, tipster_id=tipster.id, area=area(XIAN), radius_km=50, language="en", quiet=None
    )
    assert len(await alerts_to(session, tipster)) == 1


async def test_a_newcomer_hears_of_no_more_cases_than_the_daily_cap(session):
    for name in ("Li Na", "Wang Fang"):
        case = await active_case(session, seen=utcnow(), name=name)
        await start(session, case, utcnow())
    newcomer = await person(session)
    await subscribe_volunteer(
        session,
        tipster_id=newcomer.id,
        area=area(NEAR),
        radius_km=50,
        language="en",
        quiet=None,
        per_day=1,
    )
    assert len(await alerts_to(session, newcomer)) == 1
