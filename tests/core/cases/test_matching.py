"""Matching cases: found children with missing ones, duplicates, and decisions kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from core.cases.match_scoring import cjk_core, mark_words, name_similarity, normalise_name
from core.cases.matching import refresh_matches, store_name_keys
from core.faces.records import pack
from storage.models import Case, CaseMatch, CasePhoto, FaceEmbedding
from tests.core.faces.face_images import synthetic_vector

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def _case(session, **fields) -> Case:
    values = {"status": "active", "kind": "missing", "full_name": "Someone", **fields}
    case = Case(**values)
    session.add(case)
    await session.flush()
    await store_name_keys(session, case=case)  # as registering a case does
    return case


# Lily (born 2019-03-01) when the found child was found, 30 days before NOW: 7 years 7 months.
_LILY_AGE_WHEN_FOUND_MONTHS = 91


async def _missing_lily(session, **fields) -> Case:
    return await _case(
        session,
        full_name="Lily Chen",
        nicknames="Mimi, 咪咪",
        sex="female",
        birth_date=date(2019, 3, 1),
        last_seen_at=NOW - timedelta(days=400),
        last_seen_lat=23.13,
        last_seen_lon=113.26,
        marks="small scar above the left eyebrow",
        **fields,
    )


async def _found_child(session, **fields) -> Case:
    values = {
        "kind": "found",
        "full_name": "Mimi",
        "sex": "female",
        "age_years": 7,
        "last_seen_at": NOW - timedelta(days=30),
        "last_seen_lat": 30.57,
        "last_seen_lon": 104.07,
        **fields,
    }
    return await _case(session, **values)


def _codes(match: CaseMatch) -> list[str]:
    return [reason["code"] for reason in match.reasons]


async def _face(session, case: Case, vector, **photo_fields) -> None:
    photo = CasePhoto(case_id=case.id, status="ready", display_sha256="ab" * 32, **photo_fields)
    session.add(photo)
    await session.flush()
    session.add(FaceEmbedding(case_id=case.id, case_photo_id=photo.id, vector=pack(vector)))
    await session.flush()


async def test_a_found_child_who_knows_only_the_nickname_is_matched_with_reasons(session):
    lily = await _missing_lily(session)
    found = await _found_child(session)
    (match,) = await refresh_matches(session, case=found, now=NOW)
    await session.commit()
    assert (match.case_id, match.other_case_id, match.kind) == (lily.id, found.id, "found")
    assert match.status == "open" and 0.45 <= match.score <= 1.0
    assert _codes(match)[:3] == ["nickname", "sex", "age"]
    assert match.reasons[0]["params"] == {"a": "mimi", "b": "mimi", "similarity": 100}
    assert match.reasons[2]["params"] == {"expected": 7, "estimated": 7}
    assert {"found_after", "distance"} <= set(_codes(match))


async def test_a_found_child_of_the_other_sex_is_not_matched(session):
    await _missing_lily(session)
    boy = await _found_child(session, sex="male")
    assert await refresh_matches(session, case=boy, now=NOW) == []


async def test_an_age_far_from_the_missing_childs_age_now_counts_against(session):
    await _missing_lily(session)
    adult = await _found_child(session, age_years=30)
    assert await refresh_matches(session, case=adult, now=NOW) == []


async def test_a_child_found_before_the_other_went_missing_is_not_a_likely_match(session):
    await _missing_lily(session)
    earlier = await _found_child(session, last_seen_at=NOW - timedelta(days=3000), age_years=1)
    assert await refresh_matches(session, case=earlier, now=NOW) == []


async def test_the_same_child_registered_twice_is_flagged_as_a_duplicate(session):
    first = await _missing_lily(session)
    again = await _case(session, full_name="LILY  CHEN", sex="female", birth_date=date(2019, 3, 1))
    twin = await _case(session, full_name="Rose Chen", sex="female", birth_date=date(2019, 3, 1))
    matches = await refresh_matches(session, case=again, now=NOW)
    assert [(m.case_id, m.other_case_id, m.kind) for m in matches] == [
        (first.id, again.id, "duplicate")
    ]
    assert "same_birth_date" in _codes(matches[0])
    assert twin.id not in {matches[0].case_id, matches[0].other_case_id}


async def test_a_pair_is_stored_once_whichever_case_is_refreshed(session):
    lily = await _missing_lily(session)
    found = await _found_child(session)
    await refresh_matches(session, case=found, now=NOW)
    await refresh_matches(session, case=lily, now=NOW)
    await session.commit()
    rows = (await session.scalars(select(CaseMatch))).all()
    assert [(r.case_id, r.other_case_id) for r in rows] == [(lily.id, found.id)]


async def test_a_dismissed_match_stays_dismissed_after_a_refresh(session):
    await _missing_lily(session)
    found = await _found_child(session)
    (match,) = await refresh_matches(session, case=found, now=NOW)
    match.status = "dismissed"
    await session.commit()
    (again,) = await refresh_matches(session, case=found, now=NOW)
    await session.commit()
    assert again.id == match.id and again.status == "dismissed"
    found.full_name, found.nicknames, found.age_years = "Zhang Wei", "", 40
    assert await refresh_matches(session, case=found, now=NOW) == []
    await session.commit()
    kept = await session.get(CaseMatch, match.id)
    assert kept is not None and kept.status == "dismissed"  # a decision is never dropped


async def test_an_open_match_no_longer_likely_is_removed(session):
    await _missing_lily(session)
    found = await _found_child(session)
    (match,) = await refresh_matches(session, case=found, now=NOW)
    await session.commit()
    found.nicknames, found.full_name = "", "Unknown girl"
    assert await refresh_matches(session, case=found, now=NOW) == []
    await session.commit()
    assert await session.scalar(select(CaseMatch).where(CaseMatch.id == match.id)) is None


async def test_a_withdrawn_case_is_never_a_candidate(session):
    await _missing_lily(session, status="withdrawn")
    found = await _found_child(session)
    assert await refresh_matches(session, case=found, now=NOW) == []


async def test_close_faces_of_both_cases_give_a_face_reason(session):
    lily = await _missing_lily(session)
    stranger = await _found_child(session, full_name="Unknown girl", age_years=None)
    face = synthetic_vector(1)
    # A photo at about the age she would be when found: the face counts in full.
    await _face(session, lily, face, age_months=_LILY_AGE_WHEN_FOUND_MONTHS)
    await _face(session, stranger, synthetic_vector(2, near=face, by=0.3))
    (match,) = await refresh_matches(session, case=stranger, now=NOW)
    assert _codes(match)[0] == "face"
    assert 0.7 < match.reasons[0]["params"]["similarity"] < 0.8  # 1 - 0.3 / 1.2
    assert match.reasons[0]["params"]["weight"] == 1.0
    assert match.score >= 0.6


async def test_faces_farther_apart_than_the_threshold_give_nothing(session):
    lily = await _missing_lily(session)
    stranger = await _found_child(session, full_name="Unknown girl", age_years=None)
    face = synthetic_vector(1)
    await _face(session, lily, face)
    await _face(session, stranger, synthetic_vector(2, near=face, by=0.3))
    assert await refresh_matches(session, case=stranger, face_threshold=0.2, now=NOW) == []


async def test_the_same_face_registered_twice_is_a_duplicate(session):
    first = await _missing_lily(session)
    second = await _case(session, full_name="Chen Li", sex="female")
    face = synthetic_vector(5)
    await _face(session, first, face)
    await _face(session, second, face)
    (match,) = await refresh_matches(session, case=second, now=NOW)
    assert match.kind == "duplicate" and "face" in _codes(match)


# --- pure logic ----------------------------------------------------------------------------------


def test_chinese_nicknames_reduce_to_the_given_name():
    assert cjk_core("王小明", full=True) == cjk_core("明明", full=False) == "明"
    assert cjk_core("阿明", full=False) == "明"
    assert name_similarity("小明", True, "王小明", False) >= 90
    assert name_similarity("小红", True, "王小明", False) < 70


def test_names_lose_accents_and_order_but_keep_their_letters():
    assert normalise_name("  José GARCÍA ") == "jose garcia"
    assert name_similarity("lily", True, "lily chen", False) >= 90
    assert name_similarity("chen lily", False, "lily chen", False) >= 90
    assert name_similarity("anna", False, "maria", False) < 70


def test_marks_are_compared_by_words_and_chinese_character_pairs():
    assert {"scar", "knee", "左臂", "胎记"} <= mark_words("Scar on the knee; 左臂有胎记")
    assert "the" not in mark_words("the scar")


async def _missing_at_five(session, name: str) -> Case:
    """Taken at 5, 26 years before NOW: about 31 now."""
    return await _case(
        session,
        full_name=name,
        sex="female",
        age_years=5,
        last_seen_at=NOW - timedelta(days=26 * 365),
        contact_ciphertext=b"sealed",
    )


async def test_the_photo_nearest_in_age_is_compared_and_the_gap_lowers_the_weight(session):
    """Photos at 2 and 5 show someone else; the age-progressed image at 30 is her. The found
    woman is about 31: only the progressed image is compared, and it is named."""
    lily = await _missing_at_five(session, "Lily Chen")
    woman = await _found_child(session, full_name="Unknown woman", age_years=31)
    face, other = synthetic_vector(1), synthetic_vector(9)
    await _face(session, lily, other, age_months=24, position=0)
    await _face(session, lily, other, age_months=60, position=1)
    await _face(session, lily, face, age_months=360, kind="age_progressed", position=2)
    await _face(session, woman, synthetic_vector(2, near=face, by=0.3))
    (match,) = await refresh_matches(session, case=woman, now=NOW)
    params = next(r["params"] for r in match.reasons if r["code"] == "face")
    assert params["photo"] == 3 and params["photo_kind"] == "age_progressed"
    assert params["photo_age_months"] == 360 and params["gap_years"] == 1.0
    assert params["weight"] == 1.0
    # The same face on a photo at 5 only: 26 years away, the weight is 1 - 0.05 * 24 -> 0.4.
    rose = await _missing_at_five(session, "Rose Wu")
    await _face(session, rose, face, age_months=60)
    matches = await refresh_matches(session, case=woman, now=NOW)
    (with_rose,) = [m for m in matches if rose.id in (m.case_id, m.other_case_id)]
    params = next(r["params"] for r in with_rose.reasons if r["code"] == "face")
    assert (params["weight"], params["gap_years"]) == (0.4, 26.0)
    assert with_rose.score < match.score


async def test_a_duplicate_is_found_by_its_name_now_not_the_name_it_had(session):
    first = await _missing_lily(session)
    again = await _case(session, full_name="Rose Wong", sex="female", birth_date=date(2019, 3, 1))
    assert await refresh_matches(session, case=again, now=NOW) == []
    first.full_name, first.nicknames = "Rose Wong", ""
    await refresh_matches(session, case=first, now=NOW)  # its keys are now Rose Wong's
    (match,) = await refresh_matches(session, case=again, now=NOW)
    assert (match.case_id, match.other_case_id, match.kind) == (first.id, again.id, "duplicate")
