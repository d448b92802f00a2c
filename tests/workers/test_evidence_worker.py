"""evaluate_tip stores a score with its parts, idempotently; the worker evaluates what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.dedup import PhashIndex
from core.tips.evaluate import case_area, evaluate_tip
from core.tips.evidence import signed64
from storage.models import (
    Case,
    CasePhoto,
    FaceEmbedding,
    FaceMatch,
    Tip,
    TipCluster,
    TipPhoto,
    Tipster,
)
from storage.types import utcnow
from workers.evidence import EvidenceWorker

PHOTO = 0x0F0F_F0F0_1234_8765
XIAN = (34.2658, 108.9541)
BEIJING = (39.9042, 116.4074)


async def _case(session, *, last_seen_at) -> Case:
    case = Case(
        full_name="Lily Example",
        status="active",
        last_seen_at=last_seen_at,
        last_seen_lat=XIAN[0],
        last_seen_lon=XIAN[1],
    )
    session.add(case)
    await session.flush()
    return case


async def _tip(session, *, case=None, tipster=None, place=XIAN, seen_at, photo=None, status=None):
    tip = Tip(
        channel="telegram",
        text="I saw her near the south gate with a woman in a grey coat",
        case_id=case.id if case else None,
        tipster_id=tipster.id if tipster else None,
        seen_at=seen_at,
        seen_at_precision="now",
        lat=place[0],
        lon=place[1],
        location_source="pin",
        location_precision_m=20,
    )
    session.add(tip)
    await session.flush()
    if photo is not None:
        session.add(
            TipPhoto(
                tip_id=tip.id,
                status=status or "processed",
                phash=signed64(photo) if photo else None,
            )
        )
    await session.commit()
    return tip.id


async def _face_match(session, *, tip_id, case_id, similarity, created_at=None) -> None:
    case_photo = CasePhoto(case_id=case_id, original_sha256="0" * 64)
    session.add(case_photo)
    await session.flush()
    photo = await session.scalar(select(TipPhoto).where(TipPhoto.tip_id == tip_id))
    case_face = FaceEmbedding(case_photo_id=case_photo.id, case_id=case_id, vector=b"\0" * 512)
    tip_face = FaceEmbedding(tip_photo_id=photo.id, vector=b"\0" * 512)
    session.add_all([case_face, tip_face])
    await session.flush()
    session.add(
        FaceMatch(
            tip_face_id=tip_face.id,
            case_face_id=case_face.id,
            tip_id=tip_id,
            case_id=case_id,
            similarity=similarity,
            distance=(1 - similarity) * 1.2,
            created_at=created_at or utcnow(),
        )
    )
    await session.commit()


async def test_evaluate_tip_stores_score_parts_and_time_and_is_idempotent(sessions):
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        case = await _case(session, last_seen_at=now - timedelta(hours=3))
        tipster = Tipster(pseudonym="owl", promising_count=3)
        session.add(tipster)
        await session.flush()
        tip_id = await _tip(
            session, case=case, tipster=tipster, seen_at=now - timedelta(minutes=30), photo=PHOTO
        )
        await _face_match(session, tip_id=tip_id, case_id=case.id, similarity=0.7)
    index = PhashIndex()
    async with sessions() as session:
        await evaluate_tip(session, tip_id=tip_id, phash_index=index, now=now)
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        first = (tip.score, tip.score_parts, tip.evaluated_at, tip.cluster_id)
    score, parts, evaluated_at, _ = first
    assert evaluated_at == now
    assert 80 <= score <= 100
    assert parts["score"] == score and parts["flags"] == []
    # A strong face match's 25 points, weighed 0.7 for a case photo of unknown age.
    assert {p["name"]: p["points"] for p in parts["parts"]}["face"] == 18
    assert all(p["reason"].endswith(".") for p in parts["parts"])
    assert len(index) == 1
    async with sessions() as session:
        await evaluate_tip(session, tip_id=tip_id, phash_index=index, now=now)
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert (tip.score, tip.score_parts, tip.evaluated_at, tip.cluster_id) == first
        assert await session.scalar(select(func.count(TipCluster.id))) == 0
    assert len(index) == 1


async def test_an_impossible_sighting_is_stored_with_its_flag_and_a_low_score(sessions):
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        case = await _case(session, last_seen_at=now - timedelta(hours=2))
        tip_id = await _tip(
            session, case=case, place=BEIJING, seen_at=now - timedelta(hours=1, minutes=10)
        )
        await evaluate_tip(session, tip_id=tip_id, phash_index=PhashIndex(), now=now)
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert [f["code"] for f in tip.score_parts["flags"]] == ["impossible_travel"]
        assert tip.score < 20


async def test_the_case_area_follows_its_credible_sightings(sessions):
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        case = await _case(session, last_seen_at=now - timedelta(hours=3))
        assert await case_area(session, case_id=case.id) is None
        near = (XIAN[0] + 0.02, XIAN[1])
        ids = [
            await _tip(session, case=case, place=near, seen_at=now - timedelta(minutes=30)),
            await _tip(session, case=case, place=BEIJING, seen_at=now - timedelta(hours=2)),
        ]
        for tip_id in ids:
            await evaluate_tip(session, tip_id=tip_id, phash_index=PhashIndex(), now=now)
        lat, lon, radius = await case_area(session, case_id=case.id)
    assert abs(lat - near[0]) < 0.01 and abs(lon - near[1]) < 0.01 and radius < 5


async def test_the_worker_waits_for_quarantined_photos_then_evaluates_once(sessions):
    now = utcnow()
    async with sessions() as session:
        ready = await _tip(session, seen_at=now - timedelta(hours=1))
        waiting = await _tip(
            session, seen_at=now - timedelta(hours=1), photo=0, status="quarantined"
        )
    worker = EvidenceWorker(sessions=sessions)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    async with sessions() as session:
        assert (await session.get(Tip, ready)).evaluated_at is not None
        assert (await session.get(Tip, waiting)).evaluated_at is None
        photo = await session.scalar(select(TipPhoto).where(TipPhoto.tip_id == waiting))
        photo.status, photo.phash = "processed", signed64(PHOTO)
        await session.commit()
    assert await worker.run_once() == 1
    async with sessions() as session:
        assert (await session.get(Tip, waiting)).evaluated_at is not None
    assert await worker.run_once() == 0
    assert len(worker.index) == 1


async def test_the_index_built_at_start_links_new_tips_to_old_photos(sessions):
    now = utcnow()
    async with sessions() as session:
        a, b = Tipster(pseudonym="a"), Tipster(pseudonym="b")
        session.add_all([a, b])
        await session.flush()
        old = await _tip(session, tipster=a, seen_at=now - timedelta(days=1), photo=PHOTO)
    await EvidenceWorker(sessions=sessions).run_once()
    async with sessions() as session:
        new = await _tip(session, tipster=b, seen_at=now - timedelta(hours=1), photo=PHOTO ^ 0b111)
    restarted = EvidenceWorker(sessions=sessions)
    await restarted.start()
    assert len(restarted.index) == 2  # every processed photo, evaluated or not
    assert await restarted.run_once() == 1
    async with sessions() as session:
        tips = [await session.get(Tip, t) for t in (old, new)]
        assert tips[0].cluster_id == tips[1].cluster_id is not None
        assert tips[1].score_parts["links"]["photo"] == [old]


async def test_a_face_match_written_after_evaluation_brings_the_tip_back(sessions):
    now = utcnow()
    async with sessions() as session:
        case = await _case(session, last_seen_at=now - timedelta(hours=3))
        tip_id = await _tip(session, case=case, seen_at=now - timedelta(hours=1), photo=PHOTO)
    worker = EvidenceWorker(sessions=sessions)
    assert await worker.run_once() == 1
    async with sessions() as session:
        before = (await session.get(Tip, tip_id)).score
        await _face_match(
            session,
            tip_id=tip_id,
            case_id=case.id,
            similarity=0.8,
            created_at=utcnow() + timedelta(seconds=1),
        )
    assert await worker.run_once() == 1
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert tip.score > before
    assert await worker.run_once() == 0


async def test_a_photo_added_later_and_a_reset_evaluation_bring_the_tip_back(sessions):
    now = utcnow()
    async with sessions() as session:
        case = await _case(session, last_seen_at=now - timedelta(hours=3))
        tip_id = await _tip(session, case=case, seen_at=now - timedelta(hours=1))
    worker = EvidenceWorker(sessions=sessions)
    assert await worker.run_once() == 1
    async with sessions() as session:
        session.add(TipPhoto(tip_id=tip_id, status="quarantined"))
        await session.commit()
        # A face match arriving meanwhile does not jump the quarantine.
        later = utcnow() + timedelta(seconds=1)
        await _face_match(session, tip_id=tip_id, case_id=case.id, similarity=0.6, created_at=later)
    assert await worker.run_once() == 0
    async with sessions() as session:
        photo = await session.scalar(select(TipPhoto).where(TipPhoto.tip_id == tip_id))
        photo.status, photo.phash = "processed", signed64(PHOTO)
        await session.commit()
    assert await worker.run_once() == 1
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        assert next(p for p in tip.score_parts["parts"] if p["name"] == "photo")["points"] == 5
        tip.evaluated_at = None
        await session.commit()
    rounds = [await worker.run_once() for _ in range(16)]
    assert sum(rounds) == 1


async def test_a_restarted_worker_catches_up_with_photos_added_while_it_was_down(sessions):
    now = utcnow()
    async with sessions() as session:
        tip_id = await _tip(session, seen_at=now - timedelta(hours=1))
    assert await EvidenceWorker(sessions=sessions).run_once() == 1
    async with sessions() as session:
        session.add(
            TipPhoto(
                tip_id=tip_id,
                status="processed",
                phash=signed64(PHOTO),
                created_at=utcnow() + timedelta(seconds=1),
            )
        )
        await session.commit()
    restarted = EvidenceWorker(sessions=sessions)
    assert await restarted.run_once() == 1
    assert await restarted.run_once() == 0


async def test_a_failed_evaluation_leaves_no_cluster_and_the_worker_gives_up_after_three(
    sessions, monkeypatch
):
    now = utcnow()
    async with sessions() as session:
        a, b = Tipster(pseudonym="a"), Tipster(pseudonym="b")
        session.add_all([a, b])
        await session.flush()
        first = await _tip(session, tipster=a, seen_at=now - timedelta(hours=1), photo=PHOTO)
    worker = EvidenceWorker(sessions=sessions)
    assert await worker.run_once() == 1  # the first tip, alone
    async with sessions() as session:
        second = await _tip(session, tipster=b, seen_at=now - timedelta(hours=1), photo=PHOTO)

    def broken(*args, **kwargs):
        raise RuntimeError("scoring broke after the cluster was written")

    monkeypatch.setattr("core.tips.evaluate._store", broken)
    assert [await worker.run_once() for _ in range(4)] == [0, 0, 0, 0]
    async with sessions() as session:
        tip = await session.get(Tip, second)
        assert tip.evaluated_at is None and tip.cluster_id is None
        assert (await session.get(Tip, first)).cluster_id is None
        assert await session.scalar(select(func.count(TipCluster.id))) == 0
    monkeypatch.undo()
    assert await worker.run_once() == 0  # given up until restart
    assert await EvidenceWorker(sessions=sessions).run_once() == 1
    async with sessions() as session:
        clusters = {(await session.get(Tip, t)).cluster_id for t in (first, second)}
        assert len(clusters) == 1 and None not in clusters
