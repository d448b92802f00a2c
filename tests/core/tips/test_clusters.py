"""Clusters: tips that agree become one queue row, and copies of one source do not corroborate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.dedup import PhashIndex
from core.tips.clusters import Member, count_independent
from core.tips.evaluate import CLUSTER_CHANGED, evaluate_tip
from core.tips.evidence import signed64
from core.tips.rescoring import rescore_marked
from storage.models import Case, Tip, TipCluster, TipPhoto, TipScore, Tipster

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PHOTO = 0xA5A5_0F0F_3C3C_9999
OTHER_PHOTO = 0x1234_5678_9ABC_DEF0
FLOOD = (
    "URGENT!!! Lily (8) was seen at Central Station near platform 4 at 5pm today with a tall "
    "man in a black hoodie. Please share, police have been told!"
)


async def _case(session) -> Case:
    case = Case(
        full_name="Lily Example",
        status="active",
        last_seen_at=NOW - timedelta(hours=3),
        last_seen_lat=51.5007,
        last_seen_lon=-0.1246,
    )
    session.add(case)
    await session.flush()
    return case


async def _tipster(session, name: str) -> Tipster:
    tipster = Tipster(pseudonym=name)
    session.add(tipster)
    await session.flush()
    return tipster


async def _tip(
    session,
    *,
    case=None,
    tipster=None,
    text="",
    phash=None,
    place=None,
    seen=None,
    channel="telegram",
) -> int:
    tip = Tip(
        channel=channel,
        text=text,
        case_id=case.id if case else None,
        tipster_id=tipster.id if tipster else None,
        seen_at=seen or NOW - timedelta(hours=1),
        seen_at_precision="now",
    )
    if place is not None:
        tip.lat, tip.lon, tip.location_source = place[0], place[1], "pin"
    session.add(tip)
    await session.flush()
    if phash is not None:
        session.add(TipPhoto(tip_id=tip.id, status="processed", phash=signed64(phash)))
    await session.commit()
    return tip.id


async def _evaluate(sessions, index, *tip_ids) -> None:
    for tip_id in tip_ids:
        async with sessions() as session:
            await evaluate_tip(session, tip_id=tip_id, phash_index=index, now=NOW)


async def _cluster_of(sessions, tip_id) -> TipCluster | None:
    async with sessions() as session:
        tip = await session.get(Tip, tip_id)
        return await session.get(TipCluster, tip.cluster_id) if tip.cluster_id else None


async def test_two_tipsters_sending_the_same_photo_are_one_cluster_of_two_sources(sessions):
    async with sessions() as session:
        case = await _case(session)
        ann, bob = await _tipster(session, "ann"), await _tipster(session, "bob")
        first = await _tip(session, case=case, tipster=ann, phash=PHOTO)
        second = await _tip(session, case=case, tipster=bob, phash=PHOTO ^ 0b1011)  # re-encoded
        alone = await _tip(session, case=case, tipster=bob, phash=OTHER_PHOTO)
    index = PhashIndex()
    await _evaluate(sessions, index, first, second, alone)
    cluster = await _cluster_of(sessions, first)
    assert cluster is not None
    assert (cluster.size, cluster.independent_sources) == (2, 2)
    assert (await _cluster_of(sessions, second)).id == cluster.id
    assert cluster.case_id == case.id
    assert await _cluster_of(sessions, alone) is None
    async with sessions() as session:
        tip = await session.get(Tip, second)
        assert tip.score_parts["links"]["photo"] == [first]
        corroboration = next(p for p in tip.score_parts["parts"] if p["name"] == "corroboration")
        assert corroboration["points"] > 0
        # The first tip is marked to be scored again now that the second corroborates it ...
        earlier = await session.get(Tip, first)
        assert earlier.rescore_reason == CLUSTER_CHANGED
        assert earlier.score < tip.score
    # ... and the rescoring worker's next round scores it with the cluster, saying why.
    async with sessions() as session:
        assert await rescore_marked(session, now=NOW) == 1
    async with sessions() as session:
        earlier = await session.get(Tip, first)
        assert (earlier.score, earlier.rescore_reason) == (tip.score, None)
        history = await session.scalars(select(TipScore.reason).where(TipScore.tip_id == first))
        assert CLUSTER_CHANGED in history.all()


async def test_one_tipster_sending_the_same_thing_twice_is_one_source(sessions):
    async with sessions() as session:
        case = await _case(session)
        ann = await _tipster(session, "ann")
        first = await _tip(session, case=case, tipster=ann, phash=PHOTO, text="saw her")
        again = await _tip(session, case=case, tipster=ann, phash=PHOTO, text="saw her!")
    await _evaluate(sessions, PhashIndex(), first, again)
    cluster = await _cluster_of(sessions, again)
    assert (cluster.size, cluster.independent_sources) == (2, 1)


async def test_a_web_copy_paste_flood_is_one_source_however_many_copies(sessions):
    edits = [FLOOD, FLOOD.upper(), FLOOD.replace("5pm", "around 5pm"), FLOOD + " Share!!"]
    async with sessions() as session:
        case = await _case(session)
        ids = [await _tip(session, case=case, text=t, channel="web") for t in edits]
        own_words = await _tip(
            session,
            case=case,
            channel="web",
            text="I was on platform 4 myself at five and saw a girl like Lily with a tall man",
            place=(51.5007, -0.1246),
        )
    await _evaluate(sessions, PhashIndex(), *ids, own_words)
    cluster = await _cluster_of(sessions, ids[0])
    assert (cluster.size, cluster.independent_sources) == (4, 1)
    assert await _cluster_of(sessions, own_words) is None
    async with sessions() as session:
        last = await session.get(Tip, ids[-1])
        assert set(last.score_parts["links"]["text"]) == set(ids[:-1])


async def test_chinese_copies_from_different_accounts_do_not_corroborate(sessions):
    text = (
        "紧急！！8岁女孩莉莉今天下午5点在西安火车站4号站台附近被看到，"
        "和一个穿黑色连帽衫的高个子男人在一起。请转发！"
    )
    async with sessions() as session:
        case = await _case(session)
        a, b = await _tipster(session, "a"), await _tipster(session, "b")
        first = await _tip(session, case=case, tipster=a, text=text)
        copy = await _tip(session, case=case, tipster=b, text=text.replace("看到", "看见"))
    await _evaluate(sessions, PhashIndex(), first, copy)
    cluster = await _cluster_of(sessions, copy)
    assert (cluster.size, cluster.independent_sources) == (2, 1)


async def test_a_tip_linking_two_clusters_merges_them_into_the_older_one(sessions):
    async with sessions() as session:
        case = await _case(session)
        people = [await _tipster(session, name) for name in ("a", "b", "c", "d", "e")]
        photo_a = await _tip(session, case=case, tipster=people[0], phash=PHOTO)
        photo_b = await _tip(session, case=case, tipster=people[1], phash=PHOTO)
        text_a = await _tip(session, case=case, tipster=people[2], text=FLOOD)
        text_b = await _tip(session, case=case, tipster=people[3], text=FLOOD.lower())
    index = PhashIndex()
    await _evaluate(sessions, index, photo_a, photo_b, text_a, text_b)
    by_photo = await _cluster_of(sessions, photo_a)
    by_text = await _cluster_of(sessions, text_a)
    assert by_photo.id != by_text.id
    async with sessions() as session:
        bridge = await _tip(session, case=case, tipster=people[4], phash=PHOTO, text=FLOOD)
    await _evaluate(sessions, index, bridge)
    merged = await _cluster_of(sessions, bridge)
    assert merged.id == min(by_photo.id, by_text.id)
    # photo_a, photo_b: two people; text_a, text_b, bridge: one text copied three times.
    assert (merged.size, merged.independent_sources) == (5, 3)
    async with sessions() as session:
        ids = (photo_a, photo_b, text_a, text_b, bridge)
        clusters = {(await session.get(Tip, t)).cluster_id for t in ids}
        assert clusters == {merged.id}
        assert await session.scalar(select(func.count(TipCluster.id))) == 1


async def test_sightings_of_one_case_close_in_place_and_time_agree(sessions):
    station = (51.5310, -0.1260)
    async with sessions() as session:
        case = await _case(session)
        a, b, c, d = [await _tipster(session, n) for n in "abcd"]
        first = await _tip(session, case=case, tipster=a, place=station)
        near = await _tip(
            session,
            case=case,
            tipster=b,
            place=(station[0] + 0.005, station[1]),
            seen=NOW - timedelta(minutes=20),
        )
        far = await _tip(session, case=case, tipster=c, place=(station[0] + 0.05, station[1]))
        later = await _tip(
            session, case=case, tipster=d, place=station, seen=NOW + timedelta(hours=2)
        )
    await _evaluate(sessions, PhashIndex(), first, near, far, later)
    cluster = await _cluster_of(sessions, first)
    assert (cluster.size, cluster.independent_sources) == (2, 2)
    assert (await _cluster_of(sessions, near)).id == cluster.id
    assert await _cluster_of(sessions, far) is None
    assert await _cluster_of(sessions, later) is None


async def test_the_same_photo_about_two_different_cases_is_not_one_cluster(sessions):
    async with sessions() as session:
        one, two = await _case(session), await _case(session)
        a, b = await _tipster(session, "a"), await _tipster(session, "b")
        first = await _tip(session, case=one, tipster=a, phash=PHOTO)
        second = await _tip(session, case=two, tipster=b, phash=PHOTO)
    await _evaluate(sessions, PhashIndex(), first, second)
    assert await _cluster_of(sessions, first) is None
    assert await _cluster_of(sessions, second) is None


async def test_evaluating_again_changes_no_cluster(sessions):
    async with sessions() as session:
        case = await _case(session)
        a, b = await _tipster(session, "a"), await _tipster(session, "b")
        first = await _tip(session, case=case, tipster=a, phash=PHOTO)
        second = await _tip(session, case=case, tipster=b, phash=PHOTO)
    index = PhashIndex()
    await _evaluate(sessions, index, first, second, second, first, second)
    cluster = await _cluster_of(sessions, first)
    assert (cluster.size, cluster.independent_sources) == (2, 2)
    async with sessions() as session:
        assert await session.scalar(select(func.count(TipCluster.id))) == 1


def test_independence_counts_tipsters_and_joins_text_copies():
    members = [
        Member(1, tipster_id=10),
        Member(2, tipster_id=10),  # same person again
        Member(3, tipster_id=None),
        Member(4, tipster_id=None, text_links=(3,)),  # copy of 3
        Member(5, tipster_id=11, text_links=(99,)),  # a copy of a tip outside the cluster
        Member(6, tipster_id=None),
    ]
    assert count_independent(members) == 4
    assert count_independent([]) == 0
