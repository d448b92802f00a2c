"""The face worker looks at each new photo once and leaves matches for moderators to judge."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.faces import similarity
from core.faces.engine import FaceEngine
from storage.models import Case, CaseMatch, CasePhoto, FaceEmbedding, FaceMatch, Tip, TipPhoto
from tests.core.faces import face_images as images
from tests.core.faces.face_images import FakeEngine, synthetic_vector
from workers.faces import FaceWorker


class CountingEngine:
    """The real engine, counting its calls."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.calls = 0

    def embed(self, image: bytes):
        self.calls += 1
        return self.engine.embed(image)


async def _case(sessions, stores, *, status, photo: bytes, clean=True) -> int:
    async with sessions() as session:
        case = Case(full_name="Test Child", status=status)
        session.add(case)
        await session.flush()
        sha = stores.display.put(photo) if clean else stores.originals.put(photo)
        session.add(
            CasePhoto(
                case_id=case.id,
                status="ready",
                original_sha256=sha,
                display_sha256=sha if clean else None,
            )
        )
        await session.commit()
        return case.id


async def _tip(sessions, stores, *photos: bytes, status="processed") -> int:
    async with sessions() as session:
        tip = Tip(channel="telegram", text="seen")
        session.add(tip)
        await session.flush()
        session.add_all(
            TipPhoto(tip_id=tip.id, status=status, display_sha256=stores.display.put(photo))
            for photo in photos
        )
        await session.commit()
        return tip.id


async def _matches(sessions) -> list[tuple[int, int]]:
    async with sessions() as session:
        stmt = select(FaceMatch.tip_id, FaceMatch.case_id).order_by(FaceMatch.id)
        return [tuple(row) for row in (await session.execute(stmt)).all()]


async def _count(sessions, model) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def test_real_photos_give_one_match_with_the_right_case_and_nothing_twice(
    sessions, stores, real_engine
):
    engine = CountingEngine(real_engine)
    astronaut = await _case(sessions, stores, status="active", photo=images.raw("astronaut"))
    hopper = await _case(sessions, stores, status="submitted", photo=images.raw("grace_hopper"))
    tip = await _tip(
        sessions,
        stores,
        images.transformed("astronaut", "small in a big photo"),
        images.transformed("grace_hopper", "brighter"),
        images.raw("rocket"),
    )
    worker = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    assert await worker.run_once() >= 5  # two case photos, three tip photos
    assert await _matches(sessions) == [(tip, astronaut)]  # Hopper's case is not active
    async with sessions() as session:
        match = await session.scalar(select(FaceMatch))
        assert match.distance < 0.6 and match.similarity == pytest.approx(
            similarity(match.distance)
        )
        tip_row = await session.get(Tip, tip)
        assert tip_row.status == "received"  # a hint for a moderator, not a decision
    calls = engine.calls
    assert await worker.run_once() == 0
    assert engine.calls == calls  # the rocket (no face) is not looked at again
    restarted = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    await restarted.run_once()
    assert engine.calls == calls and await _matches(sessions) == [(tip, astronaut)]

    async with sessions() as session:  # a moderator verifies Hopper's case: earlier tips count
        (await session.get(Case, hopper)).status = "verified"
        await session.commit()
    assert await worker.run_once() == 1
    assert await _matches(sessions) == [(tip, astronaut), (tip, hopper)]


async def test_a_case_photo_kept_only_as_an_original_goes_through_the_sandbox(
    sessions, stores, real_engine
):
    case = await _case(
        sessions, stores, status="active", photo=images.raw("grace_hopper"), clean=False
    )
    tip = await _tip(sessions, stores, images.transformed("grace_hopper", "half size"))
    worker = FaceWorker(sessions=sessions, engine=real_engine, stores=stores)
    await worker.run_once()
    assert await _matches(sessions) == [(tip, case)]


async def test_a_missing_display_copy_is_marked_and_not_retried(sessions, stores):
    engine = FakeEngine()
    tip = await _tip(sessions, stores, b"present")
    async with sessions() as session:
        session.add(TipPhoto(tip_id=tip, status="processed", display_sha256="ab" * 32))
        session.add(TipPhoto(tip_id=tip, status="quarantined"))
        await session.commit()
    worker = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    assert await worker.run_once() == 2  # the quarantined photo waits for the photo worker
    async with sessions() as session:
        boxes = (await session.scalars(select(FaceEmbedding.box).order_by(FaceEmbedding.id))).all()
    assert boxes == [{"faces": 0, "reason": "no_face"}, {"faces": 0, "reason": "missing"}]
    assert await worker.run_once() == 0 and engine.calls == 1


async def test_a_photo_that_keeps_failing_is_given_up_after_three_tries(sessions, stores):
    class Flaky(FakeEngine):
        def embed(self, image: bytes):
            self.calls += 1
            raise RuntimeError("out of memory")

    engine = Flaky()
    await _tip(sessions, stores, b"heavy")
    worker = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    for _ in range(3):
        await worker.run_once()
    assert engine.calls == 3
    async with sessions() as session:
        (box,) = (await session.scalars(select(FaceEmbedding.box))).all()
    assert box == {"faces": 0, "reason": "failed"}
    await worker.run_once()
    assert engine.calls == 3


async def test_new_faces_of_an_active_case_are_matched_with_earlier_tips(sessions, stores):
    alike, stranger = synthetic_vector(1), synthetic_vector(2)
    engine = FakeEngine({b"tip": [alike], b"first": [stranger], b"second": [alike]})
    tip = await _tip(sessions, stores, b"tip")
    case = await _case(sessions, stores, status="active", photo=b"first")
    worker = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    await worker.run_once()
    assert await _matches(sessions) == []
    async with sessions() as session:
        sha = stores.display.put(b"second")
        session.add(
            CasePhoto(case_id=case, status="ready", original_sha256=sha, display_sha256=sha)
        )
        await session.commit()
    await worker.run_once()
    assert await _matches(sessions) == [(tip, case)]


async def test_a_quarantined_case_photo_waits_and_a_ready_one_links_a_found_child(sessions, stores):
    face = synthetic_vector(7)
    engine = FakeEngine({b"missing": [face], b"found": [face]})
    missing = await _case(sessions, stores, status="active", photo=b"missing")
    async with sessions() as session:
        found = Case(kind="found", full_name="Unknown girl", status="verified")
        session.add(found)
        await session.flush()
        waiting = CasePhoto(case_id=found.id, source_ref="tg:file", status="quarantined")
        session.add(waiting)
        await session.commit()
    worker = FaceWorker(sessions=sessions, engine=engine, stores=stores)
    await worker.run_once()
    assert engine.calls == 1 and await _count(sessions, CaseMatch) == 0
    async with sessions() as session:  # the photo worker has made its clean copy
        photo = await session.get(CasePhoto, waiting.id)
        photo.status, photo.display_sha256 = "ready", stores.display.put(b"found")
        await session.commit()
    await worker.run_once()
    async with sessions() as session:
        match = await session.scalar(select(CaseMatch))
    assert (match.case_id, match.other_case_id, match.kind) == (missing, found.id, "found")
    assert match.reasons[0]["code"] == "face"


async def test_without_the_faces_extra_the_worker_does_nothing(sessions, stores):
    await _tip(sessions, stores, images.raw("astronaut"))
    await _case(sessions, stores, status="active", photo=images.raw("astronaut"))
    worker = FaceWorker(sessions=sessions, engine=None, stores=stores)
    assert await worker.run_once() == 0
    await asyncio.wait_for(worker.run_forever(), timeout=1)  # returns at once
    assert await _count(sessions, FaceEmbedding) == 0
