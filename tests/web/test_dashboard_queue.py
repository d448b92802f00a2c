"""The queue page: ranked rows, filters, claims you can see, claim-next, and the cluster bulk act.

Runs on SQLite and PostgreSQL through the real app (httpx + ASGITransport).
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from moderation.review.queue import claim
from storage.models import AuditEvent, Decision, Tip
from tests.web import dashboard_world as world


def refs(page: str) -> list[str]:
    """The tip references of the queue's rows, top to bottom."""
    return re.findall(r'<tr class="queue-row[^"]*" data-href="/tips/([^"]+)"', page)


async def test_the_queue_ranks_urgent_first_then_by_score(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        low = await world.tip(session, score=10)
        high = await world.tip(session, score=80)
        urgent = await world.tip(session, score=5, urgent=True, status="needs_info")
        await world.tip(session, score=99, status="spam")  # decided: not in the queue
    page = await world.use(client, signed).get("/queue")
    assert page.status_code == 200
    assert refs(page.text) == [urgent.ref, high.ref, low.ref]
    assert "3 open" in page.text
    assert 'class="queue-row urgent"' in page.text


async def test_the_queue_filters_by_status_channel_case_area_and_cluster(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        case = await world.case(session)
        web = await world.tip(session, channel="web", score=1)
        in_case = await world.tip(session, case_id=case.id, score=2)
        asking = await world.tip(session, status="needs_info", score=3)
        xian = await world.tip(session, lat=34.26, lon=108.94, score=4)
        a = await world.tip(session, score=50)
        b = await world.tip(session, score=40)
        group = await world.cluster(session, [a, b])
    world.use(client, signed)

    async def shown(query: str) -> list[str]:
        response = await client.get(f"/queue?{query}")
        assert response.status_code == 200
        return refs(response.text)

    assert await shown("channel=web") == [web.ref]
    assert await shown(f"case={case.ref}") == [in_case.ref]
    assert await shown("status=needs_info") == [asking.ref]
    assert await shown("area=34,35,108,109") == [xian.ref]
    assert await shown(f"cluster={group.ref}") == [a.ref, b.ref]
    everything = await shown("")
    assert a.ref in everything and b.ref not in everything  # a cluster is one row
    page = (await client.get("/queue")).text
    assert f'href="/queue?cluster={group.ref}">2 tips' in page
    assert "four numbers" in (await client.get("/queue?area=north")).text


async def test_a_claim_shows_who_holds_the_tip(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        colleague = await world.staff(session, "moderator", "colleague@example.org")
        row = await world.tip(session, score=30)
        await claim(session, tip_id=row.id, staff_id=colleague.id)
    page = (await world.use(client, signed).get("/queue")).text
    line = next(r for r in page.split("<tr") if f'data-ref="{row.ref}"' in r)
    assert "colleague@example.org" in line


async def test_claim_next_opens_the_best_unclaimed_tip_and_holds_it(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        colleague = await world.staff(session, "moderator")
        taken = await world.tip(session, score=90)
        best = await world.tip(session, score=60)
        await world.tip(session, score=10)
        await claim(session, tip_id=taken.id, staff_id=colleague.id)
    response = await world.use(client, signed).post("/queue/claim-next", data={"csrf": signed.csrf})
    assert response.status_code == 303 and response.headers["location"] == f"/tips/{best.ref}"
    async with sessions() as session:
        assert (await session.get(Tip, best.id)).claimed_by == signed.user.id


async def test_a_post_without_the_csrf_token_changes_nothing(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        row = await world.tip(session, score=60)
    world.use(client, signed)
    for data in ({}, {"csrf": "forged"}, {"csrf": world.SECRET.hex()}):
        response = await client.post("/queue/claim-next", data=data)
        assert response.status_code == 403
        decided = await client.post(f"/tips/{row.ref}/decide", data={**data, "outcome": "spam"})
        assert decided.status_code == 403
    async with sessions() as session:
        again = await session.get(Tip, row.id)
        assert (again.status, again.claimed_by) == ("received", None)
        assert await session.scalar(select(func.count(Decision.id))) == 0


async def test_a_csrf_token_of_another_session_is_refused(client, sessions):
    async with sessions() as session:
        mine = await world.sign_in_as(session, "moderator")
        theirs = await world.sign_in_as(session, "moderator")
        row = await world.tip(session)
    response = await world.use(client, mine).post(
        f"/tips/{row.ref}/decide", data={"csrf": theirs.csrf, "outcome": "spam"}
    )
    assert response.status_code == 403
    async with sessions() as session:
        assert (await session.get(Tip, row.id)).status == "received"


async def test_a_cluster_is_decided_at_once_each_tip_on_its_own(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        colleague = await world.staff(session, "moderator")
        tips = [await world.tip(session, score=s) for s in (30, 20, 10)]
        done = await world.tip(session, status="promising")
        group = await world.cluster(session, [*tips, done])
        await claim(session, tip_id=tips[2].id, staff_id=colleague.id)

    response = await world.use(client, signed).post(
        f"/clusters/{group.ref}/decide",
        data={"csrf": signed.csrf, "outcome": "not_relevant", "note": "same rumour"},
    )

    assert response.status_code == 303 and response.headers["location"] == "/queue?bulk=2:1"
    async with sessions() as session:
        statuses = {t.ref: (await session.get(Tip, t.id)).status for t in [*tips, done]}
        audits = (
            await session.scalars(
                select(AuditEvent.object_ref).where(AuditEvent.action == "tip.not_relevant")
            )
        ).all()
    assert statuses == {
        tips[0].ref: "not_relevant",
        tips[1].ref: "not_relevant",
        tips[2].ref: "received",  # held by a colleague: left alone
        done.ref: "promising",
    }
    assert sorted(audits) == sorted([tips[0].ref, tips[1].ref])  # one audit event per tip
    page = (await client.get("/queue?bulk=2:1")).text
    assert "Cluster decided: 2 tip(s); 1 left alone" in page
