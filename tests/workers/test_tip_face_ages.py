"""A tip's face is compared with the case photo nearest in age to the child at the tip's date, and
the score's reason names that photo, the age and the gap (real faces, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.dedup import PhashIndex
from core.tips.evaluate import evaluate_tip
from storage.models import Case, CasePhoto, FaceEmbedding, FaceMatch, Tip, TipPhoto
from storage.types import utcnow
from tests.core.faces import face_images as images
from tests.web import dashboard_world as world
from workers.faces import FaceWorker

TAKEN = datetime(2018, 6, 1, 12, tzinfo=UTC)  # last seen at 3
SEEN = datetime(2026, 11, 20, 15, tzinfo=UTC)  # a sighting eight and a half years later


async def _case_with_two_ages(sessions, stores) -> int:
    """Photo 1 at 18 months (the very image the tip's face comes from), photo 2 at 10 years."""
    async with sessions() as session:
        case = Case(full_name="Lin Yue", status="active", age_years=3, last_seen_at=TAKEN)
        session.add(case)
        await session.flush()
        for position, (picture, months) in enumerate(
            [
                (images.raw("grace_hopper"), 18),
                (images.transformed("grace_hopper", "darker"), 120),
            ]
        ):
            sha = stores.display.put(picture)
            session.add(
                CasePhoto(
                    case_id=case.id,
                    status="ready",
                    position=position,
                    age_months=months,
                    original_sha256=sha,
                    display_sha256=sha,
                )
            )
        await session.commit()
        return case.id


async def _tip(sessions, stores, case_id: int) -> int:
    async with sessions() as session:
        tip = Tip(channel="web", text="seen at the market", case_id=case_id, seen_at=SEEN)
        session.add(tip)
        await session.flush()
        sha = stores.display.put(images.raw("grace_hopper"))
        session.add(TipPhoto(tip_id=tip.id, status="processed", display_sha256=sha))
        await session.commit()
        return tip.id


async def _similarity_by_photo(sessions, tip_id: int) -> dict[int, float]:
    async with sessions() as session:
        stmt = (
            select(CasePhoto.position, FaceMatch.similarity)
            .join(FaceEmbedding, FaceEmbedding.id == FaceMatch.case_face_id)
            .join(CasePhoto, CasePhoto.id == FaceEmbedding.case_photo_id)
            .where(FaceMatch.tip_id == tip_id)
        )
        return {position + 1: value for position, value in (await session.execute(stmt)).all()}


@pytest.fixture
async def client(engine, sessions, tmp_path):
    async for made in world.client_for(world.build_context(engine, sessions, tmp_path / "web")):
        yield made


async def test_a_tip_years_later_is_compared_with_the_older_photo_and_the_reason_says_so(
    sessions, stores, real_engine, client
):
    case_id = await _case_with_two_ages(sessions, stores)
    tip_id = await _tip(sessions, stores, case_id)
    await FaceWorker(sessions=sessions, engine=real_engine, stores=stores).run_once()
    alike = await _similarity_by_photo(sessions, tip_id)
    assert set(alike) == {1, 2} and alike[1] > alike[2]  # the baby photo is the closer face
    async with sessions() as session:
        await evaluate_tip(session, tip_id=tip_id, phash_index=PhashIndex(), now=utcnow())
        tip = await session.get(Tip, tip_id)
        [face] = [part for part in tip.score_parts["parts"] if part["name"] == "face"]
    assert face["data"]["photo"] == 2 and face["data"]["photo_age_months"] == 120
    assert face["data"]["age_years"] == pytest.approx(11.5, abs=0.1)
    assert face["data"]["gap_years"] == pytest.approx(1.5, abs=0.1)
    assert face["data"]["weight"] == 1.0
    assert face["data"]["similarity"] == pytest.approx(alike[2], abs=0.001)
    assert "with case photo 2 (age 10)" in face["reason"]
    assert "the child is about 11 at the tip's date, a gap of 1.5 years" in face["reason"]
    async with sessions() as session:  # the moderator reads it on the tip page
        moderator = await world.sign_in_as(session, "moderator")
    world.use(client, moderator)
    page = (await client.get(f"/tips/{tip.ref}")).text
    assert "with case photo 2 (age 10); the child is about 11" in page
    assert "a gap of 1.5 years, face weight 1;" in page


async def test_a_match_only_with_the_baby_photo_counts_less_for_the_gap(
    sessions, stores, real_engine
):
    case_id = await _case_with_two_ages(sessions, stores)
    async with sessions() as session:  # the older photo turns out to be of someone else
        older = await session.scalar(select(CasePhoto).where(CasePhoto.position == 1))
        older.display_sha256 = stores.display.put(images.raw("astronaut"))
        await session.commit()
    tip_id = await _tip(sessions, stores, case_id)
    await FaceWorker(sessions=sessions, engine=real_engine, stores=stores).run_once()
    assert set(await _similarity_by_photo(sessions, tip_id)) == {1}
    async with sessions() as session:
        await evaluate_tip(session, tip_id=tip_id, phash_index=PhashIndex(), now=utcnow())
        tip = await session.get(Tip, tip_id)
        [face] = [part for part in tip.score_parts["parts"] if part["name"] == "face"]
    # 10 years between the photo at 18 months and the child at 11.5: weight 1 - 0.05 x 8 = 0.6.
    assert face["data"]["photo"] == 1 and face["data"]["weight"] == pytest.approx(0.6, abs=0.01)
    assert face["points"] == 15  # a strong match's 25 points, times 0.6
    assert "with case photo 1 (18 months)" not in face["reason"]
    assert "with case photo 1 (age 18 months)" in face["reason"]
