"""Area alerts (core/alerts/dispatch.py): the growing radius with a controlled clock, both radii,
the daily cap, quiet hours, paused volunteers, the end of a case and re-centring on a sighting.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.alerts.dispatch import (
    AlertPolicy,
    end_case_alerts,
    extend_case_alerts,
    list_growing_cases,
    radius_at,
    recenter_case_alerts,
    start_case_alerts,
)
from core.alerts.recipients import deliver_at
from storage.models import Case, CaseAlert, CasePhoto, OutboxMessage, Subscription, Tipster

XIAN = (34.2610, 108.9420)
KM_PER_DEG_LAT = 111.195
RADII = (100.0, 200.0, 300.0, 500.0)
HOURLY = AlertPolicy(radii_km=RADII, step_minutes=60)
T0 = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 12:00 in Xi'an
SHA = "ab" * 32


def north(km: float, of: tuple[float, float] = XIAN) -> tuple[float, float]:
    return of[0] + km / KM_PER_DEG_LAT, of[1]


async def volunteer(session, at, *, radius=500.0, language="en", paused=False, quiet=None):
    tipster = Tipster(pseudonym=f"T-{secrets.token_hex(4)}", language=language)
    session.add(tipster)
    await session.flush()
    sub = Subscription(
        kind="volunteer",
        tipster_id=tipster.id,
        lat=at[0],
        lon=at[1],
        radius_km=radius,
        language=language,
        paused=paused,
        timezone="Asia/Shanghai",
        quiet_start_min=quiet[0] if quiet else None,
        quiet_end_min=quiet[1] if quiet else None,
        place_text="Xi'an, Shaanxi, China",
    )
    session.add(sub)
    await session.commit()
    return sub


async def active_case(session, *, at=XIAN, seen=T0, name="Li Na", kind="missing", status="active"):
    case = Case(
        full_name=name,
        kind=kind,
        status=status,
        age_years=7,
        last_seen_at=seen,
        last_seen_place="Lianhu, Xi'an",
        last_seen_lat=at[0],
        last_seen_lon=at[1],
    )
    session.add(case)
    await session.commit()
    return case


async def start(session, case, now, per_day=3):
    policy = AlertPolicy(radii_km=RADII, step_minutes=60, per_day=per_day)
    count = await start_case_alerts(session, case=case, now=now, policy=policy)
    await session.commit()
    return count


async def alerted(session, case) -> set[int]:
    stmt = select(CaseAlert.subscription_id).where(
        CaseAlert.case_id == case.id, CaseAlert.kind == "alert"
    )
    return set((await session.scalars(stmt)).all())


async def outbox_rows(session) -> list[OutboxMessage]:
    return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


def test_the_radius_grows_one_step_at_a_time_and_the_last_one_stays():
    at = [radius_at(timedelta(minutes=m), radii=RADII, step_minutes=60) for m in (0, 59, 60, 179)]
    assert at == [100.0, 100.0, 200.0, 300.0]
    assert radius_at(timedelta(days=9), radii=RADII, step_minutes=60) == 500.0
    assert radius_at(timedelta(minutes=-5), radii=RADII, step_minutes=60) == 100.0


async def test_the_first_hour_reaches_100_km_and_the_second_200_km(session):
    near = await volunteer(session, north(80))
    middle = await volunteer(session, north(180))
    far = await volunteer(session, north(280))
    case = await active_case(session)
    assert await start(session, case, T0 + timedelta(minutes=59)) == 1
    assert await alerted(session, case) == {near.id}
    assert case.alert_radius_km == 100.0 and (case.alert_lat, case.alert_lon) == XIAN
    assert await list_growing_cases(session, max_radius_km=500.0) == [case.id]
    count = await extend_case_alerts(
        session, case=case, now=T0 + timedelta(hours=1.99), policy=HOURLY
    )
    await session.commit()
    assert count == 1
    assert await alerted(session, case) == {near.id, middle.id}
    assert far.id not in await alerted(session, case)
    assert len(await outbox_rows(session)) == 2  # nobody is alerted twice


async def test_a_volunteer_whose_own_radius_does_not_reach_the_case_hears_nothing(session):
    short = await volunteer(session, north(50), radius=25.0)
    wide = await volunteer(session, north(50), radius=60.0)
    case = await active_case(session)
    await start(session, case, T0)
    assert await alerted(session, case) == {wide.id}
    assert short.id not in await alerted(session, case)


async def test_paused_volunteers_and_families_get_nothing(session):
    await volunteer(session, north(10), paused=True)
    tipster = Tipster(pseudonym="T-family")
    session.add(tipster)
    await session.flush()
    session.add(Subscription(kind="family", tipster_id=tipster.id, lat=XIAN[0], lon=XIAN[1]))
    await session.commit()
    case = await active_case(session)
    assert await start(session, case, T0) == 0
    assert await outbox_rows(session) == []


@pytest.mark.parametrize(
    ("kind", "status"), [("found", "active"), ("missing", "verified"), ("missing", "found")]
)
async def test_only_active_missing_child_cases_alert(session, kind, status):
    await volunteer(session, north(10))
    case = await active_case(session, kind=kind, status=status)
    assert await start(session, case, T0) == 0
    assert await outbox_rows(session) == []


async def test_a_case_without_a_point_alerts_nobody(session):
    await volunteer(session, north(10))
    case = Case(full_name="No Place", status="active", kind="missing")
    session.add(case)
    await session.commit()
    assert await start(session, case, T0) == 0


async def test_the_daily_cap_holds_for_24_hours_then_lifts(session):
    sub = await volunteer(session, north(5))
    cases = [await active_case(session, name=f"Child {i}") for i in range(5)]
    for case in cases[:3]:
        assert await start(session, case, T0, per_day=3) == 1
    assert await start(session, cases[3], T0 + timedelta(hours=23), per_day=3) == 0
    assert sub.id not in await alerted(session, cases[3])
    later = T0 + timedelta(hours=24, minutes=1)
    cases[4].last_seen_at = later
    await session.commit()
    assert await start(session, cases[4], later, per_day=3) == 1


async def test_quiet_hours_defer_the_alert_to_their_end_instead_of_dropping_it(session):
    await volunteer(session, north(5), quiet=(22 * 60, 7 * 60))
    late = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 23:30 in Xi'an
    case = await active_case(session, seen=late)
    assert await start(session, case, late) == 1
    [row] = await outbox_rows(session)
    assert row.status == "pending"
    assert row.next_attempt_at == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # 07:00 local


def test_outside_quiet_hours_and_without_them_a_message_goes_at_once():
    noon = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    night = (22 * 60, 7 * 60)
    assert (
        deliver_at(now=noon, timezone="Asia/Shanghai", start_min=night[0], end_min=night[1]) == noon
    )
    assert deliver_at(now=noon, timezone=None, start_min=None, end_min=None) == noon
    # 12:00 local inside a daytime quiet window 11:00-13:00 waits until 13:00 the same day.
    assert deliver_at(
        now=noon, timezone="Asia/Shanghai", start_min=11 * 60, end_min=13 * 60
    ) == noon + timedelta(hours=1)


async def test_the_alert_carries_the_display_photo_caption_and_both_buttons(session):
    sub = await volunteer(session, north(30), language="zh-Hans")
    case = await active_case(session)
    session.add(CasePhoto(case_id=case.id, status="quarantined", source_ref="tg:x"))
    session.add(CasePhoto(case_id=case.id, status="ready", display_sha256=SHA, position=1))
    await session.commit()
    await start(session, case, T0)
    [row] = await outbox_rows(session)
    assert row.idempotency_key == f"alert:{case.id}:{sub.id}"
    assert row.recipient == f"tipster:{sub.tipster_id}"
    payload = row.payload
    assert payload["method"] == "sendPhoto" and payload["display_sha256"] == SHA
    assert "Li Na，7 岁" in payload["caption"] and "30 公里" in payload["caption"]
    assert "2026-11-26 12:00" in payload["caption"]  # last seen, in the volunteer's zone
    assert payload["buttons"] == [
        [["我看到了这个孩子——报告", f"va:report:{case.ref}"]],
        [["暂停提醒", f"va:pause:{case.ref}"]],
    ]


async def test_without_a_ready_photo_the_alert_is_text(session):
    await volunteer(session, north(30))
    case = await active_case(session)
    await start(session, case, T0)
    [row] = await outbox_rows(session)
    assert row.payload["method"] == "sendMessage"
    assert "Li Na, 7 years old" in row.payload["text"]


async def test_found_cancels_pending_alerts_and_tells_everyone_alerted(session):
    reached = await volunteer(session, north(10))
    waiting = await volunteer(session, north(20))
    case = await active_case(session)
    await start(session, case, T0)
    first = next(
        r for r in await outbox_rows(session) if r.idempotency_key.endswith(f":{reached.id}")
    )
    first.status = "sent"
    case.status = "found"
    assert await end_case_alerts(session, case=case, now=T0 + timedelta(hours=3)) == 1
    await session.commit()
    rows = {r.idempotency_key: r for r in await outbox_rows(session)}
    assert rows[f"alert:{case.id}:{waiting.id}"].status == "cancelled"
    news = rows[f"ended:{case.id}:{reached.id}"]
    assert news.status == "pending" and "has been found" in news.payload["text"]
    assert f"ended:{case.id}:{waiting.id}" not in rows
    assert await end_case_alerts(session, case=case, now=T0 + timedelta(hours=4)) == 0  # once


async def test_recentering_on_a_sighting_alerts_the_volunteers_near_it(session):
    near_home = await volunteer(session, north(10))
    sighting = north(600)
    near_sighting = await volunteer(session, north(20, of=sighting))
    case = await active_case(session)
    await start(session, case, T0 + timedelta(hours=5))  # 500 km: not yet 620 km
    assert await alerted(session, case) == {near_home.id}
    seen = T0 + timedelta(hours=6)
    await recenter_case_alerts(
        session, case=case, lat=sighting[0], lon=sighting[1], at=seen, now=seen
    )
    await session.commit()
    assert case.alert_radius_km == 100.0 and case.alert_from_at == seen
    assert await alerted(session, case) == {near_home.id, near_sighting.id}


async def test_volunteers_across_the_antimeridian_are_found(session):
    fiji = (-17.0, 179.95)
    other_side = await volunteer(session, (-17.0, -179.95))
    case = await active_case(session, at=fiji)
    await start(session, case, T0)
    assert await alerted(session, case) == {other_side.id}
