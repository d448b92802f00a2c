"""Face matching: the dlib engine on real faces, the numpy index, the use cases on both databases.

Faces: two public-domain portraits (tests/fixtures/faces/README.md). The same face scaled, turned,
relit or recompressed must stay within dlib's 0.6; the other person must stay beyond it.
"""

from __future__ import annotations

import builtins
import logging

import numpy as np
import pytest
from sqlalchemy import func, select

from core.faces import (
    DEFAULT_THRESHOLD,
    FaceIndex,
    embed_case_photo,
    embed_tip_photo,
    load_case_index,
    load_face_engine,
    mark_photo_unusable,
    match_case_against_tips,
    match_tip_faces,
    similarity,
)
from core.faces.engine import FaceEngine, model_dir
from core.faces.records import pack, unpack
from storage.models import Case, CasePhoto, FaceEmbedding, FaceMatch, Tip, TipPhoto
from tests.core.faces import face_images as images
from tests.core.faces.face_images import FakeEngine, synthetic_vector

SHA = "0" * 64


@pytest.fixture(scope="module")
def face_engine() -> FaceEngine:
    loaded = load_face_engine()
    assert loaded is not None, "the 'faces' extra is part of the test environment (uv --all-extras)"
    return loaded


@pytest.fixture(scope="module")
def reference(face_engine: FaceEngine) -> dict[str, np.ndarray]:
    return {name: face_engine.embed(images.raw(name))[0].vector for name in images.PEOPLE}


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


# --- the engine ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", images.PEOPLE)
def test_a_portrait_gives_its_face_first_with_a_128_float32_vector(face_engine, name):
    faces = face_engine.embed(images.raw(name))
    assert len(faces) == 1, f"{name}: {[f.box for f in faces]}"  # not the astronaut's insignia
    best = faces[0]
    assert best.vector.shape == (128,) and best.vector.dtype == np.float32
    assert np.isfinite(best.vector).all()
    x, y, w, h = images.FACE_AT[name]
    box = best.box
    assert abs(box.x - x) <= w * 0.2 and abs(box.y - y) <= h * 0.2
    assert 0.7 < box.w / w < 1.4


@pytest.mark.parametrize("name", [*images.FACELESS, "landscape"])
def test_landscapes_and_a_cat_have_no_face(face_engine, name):
    data = images.landscape() if name == "landscape" else images.raw(name)
    assert face_engine.embed(data) == []


def test_boxes_are_in_the_pixels_of_the_image_given(face_engine):
    faces = face_engine.embed(images.transformed("astronaut", "three times"))
    x, y, w, _ = images.FACE_AT["astronaut"]
    box = faces[0].box
    assert abs(box.x - 3 * x) <= 3 * w * 0.2 and abs(box.y - 3 * y) <= 3 * w * 0.2
    assert 0.7 < box.w / (3 * w) < 1.4


@pytest.mark.parametrize("how", list(images.TRANSFORMS))
@pytest.mark.parametrize("name", images.PEOPLE)
def test_the_same_face_transformed_is_within_threshold_and_the_other_person_beyond(
    face_engine, reference, name, how
):
    other = next(person for person in images.PEOPLE if person != name)
    faces = face_engine.embed(images.transformed(name, how))
    assert len(faces) == 1, f"{name} {how}: {[(f.box, f.score) for f in faces]}"
    same = min(_distance(face.vector, reference[name]) for face in faces)
    assert same < DEFAULT_THRESHOLD
    nearest = min(faces, key=lambda face: _distance(face.vector, reference[name]))
    assert _distance(nearest.vector, reference[other]) > DEFAULT_THRESHOLD


def test_two_different_people_are_farther_apart_than_the_threshold(reference):
    assert _distance(reference["astronaut"], reference["grace_hopper"]) > DEFAULT_THRESHOLD


def test_an_image_larger_than_any_display_copy_is_refused(face_engine):
    from PIL import Image

    with pytest.raises(ValueError, match="larger than any display copy"):
        face_engine.embed(images.jpeg(Image.new("RGB", (5000, 16))))


def test_without_dlib_face_matching_is_off_with_one_human_line(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_dlib(name, *args, **kwargs):
        if name == "dlib":
            raise ImportError("No module named 'dlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dlib)
    with caplog.at_level(logging.WARNING, logger="tipline.faces"):
        assert load_face_engine() is None
    assert "face matching is off: install the 'faces' extra" in caplog.text


def test_without_the_model_files_face_matching_is_off(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="tipline.faces"):
        assert load_face_engine(models=tmp_path) is None
    assert "model files missing" in caplog.text


def test_models_are_found_on_disk_without_importing_their_package():
    folder = model_dir()
    assert folder is not None and (folder / "dlib_face_recognition_resnet_model_v1.dat").is_file()


# --- the index ----------------------------------------------------------------------------------


def _brute_force(vectors, query, k, max_distance):
    distances = np.linalg.norm(vectors.astype(np.float64) - query.astype(np.float64), axis=1)
    order = np.argsort(distances, kind="stable")[:k]
    return [(int(i), float(distances[i])) for i in order if distances[i] <= max_distance]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_search_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    vectors = (rng.normal(size=(5_000, 128)) * 0.12).astype(np.float32)
    index = FaceIndex(
        face_ids=list(range(5_000)), case_ids=[i // 3 for i in range(5_000)], vectors=vectors
    )
    for _ in range(20):
        query = vectors[rng.integers(5_000)] + rng.normal(size=128).astype(np.float32) * 0.05
        for k, limit in ((1, 10.0), (5, 10.0), (50, 1.6), (5_000, 1.5)):
            hits = index.search(query, k=k, max_distance=limit)
            expected = _brute_force(vectors, query, k, limit)
            assert [h.face_id for h in hits] == [i for i, _ in expected]
            assert [h.case_id for h in hits] == [i // 3 for i, _ in expected]
            assert np.allclose([h.distance for h in hits], [d for _, d in expected], atol=1e-5)


def test_index_batch_comparison_finds_exactly_the_pairs_within_the_distance():
    rng = np.random.default_rng(7)
    vectors = (rng.normal(size=(2_000, 128)) * 0.12).astype(np.float32)
    queries = vectors[:300] + rng.normal(size=(300, 128)).astype(np.float32) * 0.04
    index = FaceIndex(face_ids=list(range(10, 2_010)), case_ids=[0] * 2_000, vectors=vectors)
    pairs = index.within(queries, max_distance=1.5)
    expected = {
        (q, int(f) + 10)
        for q, query in enumerate(queries)
        for f in np.nonzero(np.linalg.norm(vectors - query, axis=1) <= 1.5)[0]
    }
    assert {(p.query, p.face_id) for p in pairs} == expected
    assert len(expected) > 300  # each query's own vector, and some neighbours


def test_an_empty_index_finds_nothing_and_bad_vectors_are_refused():
    empty = FaceIndex.empty()
    assert len(empty) == 0 and empty.search(np.zeros(128)) == []
    assert empty.within(np.zeros((3, 128)), max_distance=1.0) == []
    with pytest.raises(ValueError, match="128"):
        FaceIndex(face_ids=[1], case_ids=[1], vectors=np.zeros((1, 64)))
    with pytest.raises(ValueError, match="same length"):
        FaceIndex(face_ids=[1, 2], case_ids=[1], vectors=np.zeros((2, 128)))
    with pytest.raises(ValueError, match="finite"):
        FaceIndex.empty().search(np.full(128, np.nan))


def test_similarity_is_one_minus_distance_over_1_2_clipped():
    assert similarity(0.0) == 1.0
    assert similarity(0.6) == pytest.approx(0.5)
    assert similarity(0.3) == pytest.approx(0.75)
    assert similarity(1.5) == 0.0


def test_vectors_round_trip_as_512_little_endian_float32_bytes():
    vector = synthetic_vector(3)
    data = pack(vector)
    assert len(data) == 512 and data == vector.astype("<f4").tobytes()
    assert np.array_equal(unpack(data), vector)
    with pytest.raises(ValueError):
        unpack(b"")


# --- the use cases, on SQLite and PostgreSQL ----------------------------------------------------

ALIKE = synthetic_vector(1)
ALIKE_TOO = synthetic_vector(2, near=ALIKE, by=0.3)
STRANGER = synthetic_vector(3)


async def _case(session, *, status="active", photos=1) -> tuple[Case, list[CasePhoto]]:
    case = Case(full_name="Test Child", status=status)
    session.add(case)
    await session.flush()
    rows = [CasePhoto(case_id=case.id, original_sha256=SHA) for _ in range(photos)]
    session.add_all(rows)
    await session.commit()
    return case, rows


async def _tip(session, *, photos=1) -> tuple[Tip, list[TipPhoto]]:
    tip = Tip(channel="web", text="seen at the station")
    session.add(tip)
    await session.flush()
    rows = [TipPhoto(tip_id=tip.id, status="processed", display_sha256=SHA) for _ in range(photos)]
    session.add_all(rows)
    await session.commit()
    return tip, rows


async def _count(session, model) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)))


async def test_a_tip_photo_is_embedded_once_with_vector_bytes_and_box(session):
    _, (photo,) = await _tip(session)
    engine = FakeEngine({b"two people": [ALIKE, STRANGER]})
    rows = await embed_tip_photo(session, engine, tip_photo=photo, display_bytes=b"two people")
    assert [unpack(r.vector).tolist() for r in rows] == [ALIKE.tolist(), STRANGER.tolist()]
    assert rows[0].box == {"x": 0, "y": 10, "w": 80, "h": 80, "score": 1.0}
    assert rows[0].tip_photo_id == photo.id and rows[0].case_id is None
    again = await embed_tip_photo(session, engine, tip_photo=photo, display_bytes=b"two people")
    assert again == [] and engine.calls == 1
    assert await _count(session, FaceEmbedding) == 2


async def test_a_photo_without_a_face_gets_a_marker_so_it_is_not_looked_at_again(session):
    _, (faceless, broken) = await _tip(session, photos=2)
    engine = FakeEngine()
    assert await embed_tip_photo(session, engine, tip_photo=faceless, display_bytes=b"sky") == []
    assert await embed_tip_photo(session, engine, tip_photo=broken, display_bytes=b"broken") == []
    markers = (await session.scalars(select(FaceEmbedding).order_by(FaceEmbedding.id))).all()
    assert [(m.vector, m.box["reason"]) for m in markers] == [(b"", "no_face"), (b"", "unreadable")]
    await embed_tip_photo(session, engine, tip_photo=faceless, display_bytes=b"sky")
    await mark_photo_unusable(session, tip_photo_id=faceless.id, reason="missing")
    assert engine.calls == 2 and await _count(session, FaceEmbedding) == 2


async def test_tip_faces_are_matched_with_active_cases_once(session):
    case, (case_photo,) = await _case(session)
    await embed_case_photo(
        session, FakeEngine({b"c": [ALIKE]}), case_photo=case_photo, display_bytes=b"c"
    )
    tip, (photo,) = await _tip(session)
    engine = FakeEngine({b"t": [ALIKE_TOO, STRANGER]})
    await embed_tip_photo(session, engine, tip_photo=photo, display_bytes=b"t")
    index = await load_case_index(session)
    assert len(index) == 1
    assert await match_tip_faces(session, tip_id=tip.id, index=index) == 1
    assert await match_tip_faces(session, tip_id=tip.id, index=index) == 0
    (match,) = (await session.scalars(select(FaceMatch))).all()
    assert (match.tip_id, match.case_id) == (tip.id, case.id)
    assert match.distance == pytest.approx(0.3, abs=1e-4)
    assert match.similarity == pytest.approx(similarity(0.3))


@pytest.mark.parametrize("status", ["submitted", "closed", "found"])
async def test_inactive_cases_are_never_matched_even_from_a_stale_index(session, status):
    case, (case_photo,) = await _case(session)
    await embed_case_photo(
        session, FakeEngine({b"c": [ALIKE]}), case_photo=case_photo, display_bytes=b"c"
    )
    stale = await load_case_index(session)  # built while the case was active
    case.status = status
    await session.commit()
    assert len(await load_case_index(session)) == 0
    tip, (photo,) = await _tip(session)
    await embed_tip_photo(session, FakeEngine({b"t": [ALIKE]}), tip_photo=photo, display_bytes=b"t")
    assert await match_tip_faces(session, tip_id=tip.id, index=stale) == 0
    assert await match_case_against_tips(session, case_id=case.id) == 0
    assert await _count(session, FaceMatch) == 0


async def test_a_new_case_is_compared_with_every_earlier_tip_face_once(session):
    tips = []
    for vector in (ALIKE_TOO, STRANGER, ALIKE):
        tip, (photo,) = await _tip(session)
        await embed_tip_photo(
            session, FakeEngine({b"t": [vector]}), tip_photo=photo, display_bytes=b"t"
        )
        tips.append(tip.id)
    case, (photo_a, photo_b) = await _case(session, photos=2)
    engine = FakeEngine({b"a": [ALIKE], b"b": [STRANGER]})
    await embed_case_photo(session, engine, case_photo=photo_a, display_bytes=b"a")
    await embed_case_photo(session, engine, case_photo=photo_b, display_bytes=b"b")
    assert await match_case_against_tips(session, case_id=case.id) == 3
    assert await match_case_against_tips(session, case_id=case.id) == 0
    found = (await session.scalars(select(FaceMatch.tip_id).order_by(FaceMatch.tip_id))).all()
    assert found == sorted(tips)
    case_faces = await session.scalars(
        select(FaceEmbedding.case_id).where(FaceEmbedding.case_photo_id.is_not(None))
    )
    assert set(case_faces) == {case.id}


async def test_an_unexpected_engine_failure_stores_nothing(session):
    class Exploding:
        def embed(self, image: bytes):
            raise RuntimeError("dlib crashed")

    _, (photo,) = await _tip(session)
    with pytest.raises(RuntimeError):
        await embed_tip_photo(session, Exploding(), tip_photo=photo, display_bytes=b"x")
    await session.rollback()
    assert await _count(session, FaceEmbedding) == 0
