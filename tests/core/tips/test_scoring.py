"""The lead score: parts a moderator can read, flags for the impossible, a probable area."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from core.geo import distance_km
from core.tips.scoring import (
    CaseFacts,
    Sighting,
    TipFacts,
    TipsterRecord,
    duration_text,
    probable_area,
    score_tip,
    travel_mode,
)

NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
XIAN = (34.2658, 108.9541)
BEIJING = (39.9042, 116.4074)  # ~910 km from Xi'an
CASE = CaseFacts(
    last_seen_at=NOW - timedelta(hours=2), last_seen_lat=XIAN[0], last_seen_lon=XIAN[1]
)


def _tip(**overrides) -> TipFacts:
    values = {
        "seen_at": NOW - timedelta(hours=1),
        "seen_at_precision": "now",
        "lat": XIAN[0] + 0.01,
        "lon": XIAN[1],
        "location_source": "typed",
    }
    return TipFacts(**(values | overrides))


def _part(result, name):
    return next(p for p in result.parts if p.name == name)


def _codes(result):
    return [f.code for f in result.flags]


def test_a_sighting_a_thousand_km_away_an_hour_later_is_impossible_and_scores_low():
    tip = _tip(
        lat=BEIJING[0],
        lon=BEIJING[1],
        location_source="pin",
        seen_at=CASE.last_seen_at + timedelta(hours=1),
    )
    result = score_tip(tip, case=CASE, now=NOW)
    assert "impossible_travel" in _codes(result)
    travel = _part(result, "travel")
    assert travel.points <= -40
    assert "Impossible travel" in travel.reason and "km" in travel.reason
    assert result.score <= 15


def test_a_precise_recent_corroborated_sighting_with_a_face_match_scores_high():
    tip = _tip(
        seen_at=NOW - timedelta(minutes=40),
        location_source="live",
        location_precision_m=15,
        photos=1,
        face_similarity=0.72,
        cluster_size=3,
        independent_sources=3,
        tipster=TipsterRecord(promising=2, spam=0),
    )
    result = score_tip(tip, case=CASE, now=NOW)
    assert result.flags == ()
    assert result.score >= 90
    assert {p.name for p in result.parts if p.points > 0} >= {
        "travel",
        "recency",
        "location",
        "face",
        "photo",
        "corroboration",
        "tipster",
    }


def test_the_score_is_the_sum_of_its_parts_clamped_to_0_100():
    plain = score_tip(_tip(), case=CASE, now=NOW)
    assert plain.score == sum(p.points for p in plain.parts)
    best = score_tip(
        _tip(location_source="pin", photos=2, face_similarity=0.9, independent_sources=5),
        case=CASE,
        now=NOW,
    )
    assert best.score == 100 < sum(p.points for p in best.parts)
    worst = score_tip(
        _tip(lat=BEIJING[0], lon=BEIJING[1], tipster=TipsterRecord(blocked=True)),
        case=CASE,
        now=NOW + timedelta(days=400),
    )
    assert worst.score == 0


SENTENCE = re.compile(r"^[A-Z0-9][^{}]*[.]$")


@pytest.mark.parametrize(
    ("tip", "case"),
    [
        (_tip(), CASE),
        (TipFacts(), None),
        (_tip(seen_at=CASE.last_seen_at - timedelta(days=3)), CASE),
        (_tip(lat=BEIJING[0], lon=BEIJING[1]), CASE),
        (_tip(location_source="exif", photos=3, case_photo_copies=3, face_similarity=0.4), CASE),
        (_tip(seen_at=NOW - timedelta(days=200), independent_sources=1, cluster_size=4), CASE),
        (_tip(location_source="pin", location_precision_m=9000, tipster=TipsterRecord(1, 5)), CASE),
        (_tip(seen_at=NOW + timedelta(days=1), tipster=TipsterRecord()), CASE),
    ],
)
def test_every_part_reason_is_a_readable_sentence(tip, case):
    result = score_tip(tip, case=case, now=NOW)
    assert [p.name for p in result.parts] == [
        "base",
        "travel",
        "recency",
        "location",
        "face",
        "photo",
        "corroboration",
        "tipster",
    ]
    for part in result.parts:
        assert SENTENCE.match(part.reason), part.reason
        assert "None" not in part.reason and len(part.reason.split()) >= 4
    for flag in result.flags:
        assert SENTENCE.match(flag.message), flag.message
    stored = result.to_json()
    assert stored["score"] == result.score and len(stored["parts"]) == 8


def test_a_sighting_before_the_disappearance_is_flagged():
    tip = _tip(seen_at=CASE.last_seen_at - timedelta(days=2))
    result = score_tip(tip, case=CASE, now=NOW)
    assert _codes(result) == ["before_disappearance"]
    assert _part(result, "travel").points < 0
    assert "2 days before the child went missing" in _part(result, "travel").reason


def test_a_day_only_seen_time_leaves_room_before_the_last_seen_time():
    tip = _tip(seen_at=CASE.last_seen_at - timedelta(hours=6), seen_at_precision="day")
    assert "before_disappearance" not in _codes(score_tip(tip, case=CASE, now=NOW))


@pytest.mark.parametrize(
    ("km", "hours", "mode"),
    [
        (3, 1, "on foot"),
        (80, 1, "by car"),
        (400, 3, "by car or train"),
        (2000, 6, "by plane"),
        (1000, 1, None),
        (20_000, 20, None),
        (5000, 24 * 400, "by car or train"),
    ],
)
def test_travel_modes_follow_distance_over_time(km, hours, mode):
    assert travel_mode(km, hours) == mode


def test_closer_plausible_travel_scores_more_than_far_plausible_travel():
    walking = score_tip(_tip(), case=CASE, now=NOW)
    driving = score_tip(_tip(lat=XIAN[0] + 0.5), case=CASE, now=NOW)
    assert _part(walking, "travel").points > _part(driving, "travel").points > 0
    assert "on foot" in _part(walking, "travel").reason


def test_recent_sightings_score_more_than_old_ones():
    points = [
        _part(score_tip(_tip(seen_at=NOW - age), case=None, now=NOW), "recency").points
        for age in (
            timedelta(hours=2),
            timedelta(hours=20),
            timedelta(days=10),
            timedelta(days=300),
        )
    ]
    assert points == sorted(points, reverse=True) and points[0] > points[-1]
    assert _part(score_tip(_tip(seen_at=None), case=None, now=NOW), "recency").points == 0


def test_location_precision_ranks_gps_over_exif_over_typed_over_nothing():
    sources = [("live", 10), ("exif", None), ("typed", None), ("pin", 25_000)]
    points = [
        _part(
            score_tip(_tip(location_source=s, location_precision_m=m), case=None, now=NOW),
            "location",
        ).points
        for s, m in sources
    ]
    nothing = _part(score_tip(_tip(lat=None, lon=None), case=None, now=NOW), "location").points
    assert points[0] > points[1] > points[2] > nothing
    assert points[3] == points[2]  # a pin accurate to 25 km is no better than a town name


def test_face_similarity_raises_the_score_by_strength():
    points = [
        _part(score_tip(_tip(face_similarity=s), case=None, now=NOW), "face").points
        for s in (0.8, 0.6, 0.52, 0.3)
    ]
    assert points == sorted(points, reverse=True) and points[-1] < 0
    assert _part(score_tip(_tip(), case=None, now=NOW), "face").points == 0


def test_copies_of_one_source_do_not_corroborate():
    copies = score_tip(_tip(cluster_size=5, independent_sources=1), case=None, now=NOW)
    two = score_tip(_tip(cluster_size=2, independent_sources=2), case=None, now=NOW)
    assert _part(copies, "corroboration").points == 0
    assert "one source" in _part(copies, "corroboration").reason
    assert _part(two, "corroboration").points > 0


def test_the_tipsters_record_counts_and_a_newcomer_is_neutral():
    def points(record):
        return _part(score_tip(_tip(tipster=record), case=None, now=NOW), "tipster").points

    assert points(TipsterRecord()) == 0 and points(None) == 0
    assert points(TipsterRecord(promising=5)) > 0
    assert points(TipsterRecord(promising=1, spam=6)) < 0
    assert points(TipsterRecord(promising=9, blocked=True)) == -20


def test_the_case_photo_sent_back_is_flagged_not_rewarded():
    result = score_tip(_tip(photos=1, case_photo_copies=1), case=CASE, now=NOW)
    assert "case_photo" in _codes(result)
    assert _part(result, "photo").points < 0


def _sighting(tip_id, point, *, hours_ago=1.0, score=70.0, flags=frozenset()):
    return Sighting(
        tip_id=tip_id,
        ref=f"T{tip_id}",
        lat=point[0],
        lon=point[1],
        seen_at=NOW - timedelta(hours=hours_ago),
        score=score,
        flags=flags,
    )


def test_a_credible_sighting_far_away_at_the_same_time_is_a_contradiction():
    others = [
        _sighting(7, BEIJING, hours_ago=1.5),
        _sighting(8, BEIJING, hours_ago=1.0, score=20),  # not credible
        _sighting(9, XIAN, hours_ago=1.0),  # agrees
        _sighting(10, BEIJING, hours_ago=30),  # far, but a day is time enough to fly
    ]
    result = score_tip(_tip(), case=CASE, now=NOW, others=others)
    contradictions = [f for f in result.flags if f.code == "contradicts_sighting"]
    assert [f.tip_id for f in contradictions] == [7]
    assert "T7" in contradictions[0].message


def test_the_probable_area_centres_on_the_best_recent_credible_sightings():
    near_a = (34.30, 108.95)
    near_b = (34.26, 108.90)
    sightings = [
        _sighting(1, near_a, score=90),
        _sighting(2, near_b, score=60, hours_ago=5),
        _sighting(3, BEIJING, score=30),  # not credible
        _sighting(4, BEIJING, score=95, flags=frozenset({"impossible_travel"})),
        _sighting(5, BEIJING, score=95, hours_ago=24 * 30),  # credible but stale
    ]
    lat, lon, radius = probable_area(sightings)
    centre = (lat, lon)
    assert distance_km(centre, near_a) < distance_km(centre, near_b)
    assert radius >= max(distance_km(centre, near_a), distance_km(centre, near_b))
    assert radius < 10
    assert probable_area(sightings[2:4]) is None
    assert probable_area([]) is None


def test_the_probable_area_is_right_across_the_antimeridian():
    lat, lon, radius = probable_area([_sighting(1, (0.0, 179.9)), _sighting(2, (0.0, -179.9))])
    assert abs(lat) < 1e-6 and abs(abs(lon) - 180) < 1e-6
    assert radius < 20


def test_durations_read_naturally():
    assert duration_text(0.5) == "30 minutes"
    assert duration_text(1) == "1 hour"
    assert duration_text(50) == "2 days"
    assert duration_text(24 * 7 * 5) == "5 weeks"
    assert duration_text(24 * 400) == "13 months"
    assert duration_text(24 * 365 * 5) == "5 years"
