"""Scores stay current: a case's last-seen change marks its tips and the rescoring worker scores
them again; time moves sightings into older recency bands; each change is in the score history.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from core.cases.registry import CaseDraft, edit_case, submit_case
from core.dedup import PhashIndex
from core.identity.vault import Vault
from core.tips.evaluate import evaluate_tip
from core.tips.rescoring import TIME_PASSED
from storage.models import Case, Tip, TipScore
from storage.types import utcnow
from workers.rescoring import RescoreWorker

VAULT = Vault(Vault.new_key())


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _case(session, now: datetime) -> Case:
    draft = CaseDraft(
        full_name="Li Wei",
        birth_date=date(2018, 3, 4),
        last_seen_at=now - timedelta(hours=10),
        last_seen_place="Xi'an",
        last_seen_lat=34.26,
        last_seen_lon=108.94,
        contact="+86 138 0000 0000 (mother)",
    )
    return await submit_case(session, draft=draft, vault=VAULT, channel="staff", now=now)


async def _tip(session, now: datetime, *, case: Case | None, hours_ago: float = 2.0) -> Tip:
    tip = Tip(
        channel="telegram",
        text="a child in a red coat",
        case_id=case.id if case else None,
        seen_at=now - timedelta(hours=hours_ago),
        seen_at_precision="now",
        lat=34.27,
        lon=108.95,
        location_source="live",
    )
    session.add(tip)
    await session.commit()
    await evaluate_tip(session, tip_id=tip.id, phash_index=PhashIndex(), now=now)
    return tip


def _part(tip: Tip, name: str) -> dict:
    return next(p for p in tip.score_parts["parts"] if p["name"] == name)


async def _history(sessions, tip_id: int) -> list[tuple[float, str]]:
    async with sessions() as session:
        stmt = select(TipScore.score, TipScore.reason).where(TipScore.tip_id == tip_id)
        return [(s, r) for s, r in (await session.execute(stmt.order_by(TipScore.id))).all()]


async def test_a_changed_last_seen_place_rescores_the_cases_tips(sessions):
    now = utcnow()
    async with sessions() as session:
        case = await _case(session, now)
        near = await _tip(session, now, case=case)
        other = await _tip(session, now, case=None)
        assert _part(near, "travel")["data"]["mode"] == "on foot"
        # The family corrects the place: Paris, not Xi'an. Nobody gets from Paris to Xi'an in 8 h.
        await edit_case(
            session, case=case, changes={"last_seen_lat": 48.85, "last_seen_lon": 2.35}, now=now
        )
    async with sessions() as session:
        assert (await session.get(Tip, near.id)).rescore_reason is not None
    worker = RescoreWorker(sessions=sessions, decay_every=10**9, clock=Clock(now))
    assert await worker.run_once() == 1
    async with sessions() as session:
        tip = await session.get(Tip, near.id)
        untouched = await session.get(Tip, other.id)
    assert tip.rescore_reason is None
    assert _part(tip, "travel")["points"] == -40
    assert "impossible_travel" in [f["code"] for f in tip.score_parts["flags"]]
    assert untouched.rescore_reason is None and len(await _history(sessions, other.id)) == 1
    history = await _history(sessions, near.id)
    assert history[-1] == (tip.score, f"Case {case.ref}'s last-seen time or place changed.")
    assert len(history) == 2
    assert await worker.run_once() == 0  # nothing left marked


async def test_an_edit_that_does_not_move_the_case_marks_nothing(sessions):
    now = utcnow()
    async with sessions() as session:
        case = await _case(session, now)
        tip = await _tip(session, now, case=case)
        await edit_case(session, case=case, changes={"description": "red coat"}, now=now)
    async with sessions() as session:
        assert (await session.get(Tip, tip.id)).rescore_reason is None


async def test_recency_decays_as_time_passes_and_only_changes_are_kept(sessions):
    start = utcnow()
    async with sessions() as session:
        fresh = await _tip(session, start, case=None, hours_ago=1)
        old = await _tip(session, start, case=None, hours_ago=24 * 200)
    clock = Clock(start)
    worker = RescoreWorker(sessions=sessions, decay_every=3600, clock=clock)
    assert await worker.run_once() == 0  # nothing changed band yet
    clock.now = start + timedelta(minutes=30)
    assert await worker.run_once() == 0  # no sweep before decay_every
    clock.now = start + timedelta(hours=30)
    assert await worker.run_once() == 1  # the fresh sighting is now over a day old
    async with sessions() as session:
        tip = await session.get(Tip, fresh.id)
    assert _part(tip, "recency")["points"] == 8
    assert (await _history(sessions, fresh.id))[-1] == (tip.score, TIME_PASSED)
    assert len(await _history(sessions, old.id)) == 1  # long past the horizon: never rescored
