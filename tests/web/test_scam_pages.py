"""The scam shield on the dashboard: a recycled image and possible extortion shown on the tip
page; the senior gate over HTTP (403 with the reason for a moderator, nothing written; a senior
forwards only with the approval ticked); the Scam reports page.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core.dedup import PhashIndex
from core.tips.evaluate import evaluate_tip
from core.tips.evidence import signed64
from storage.models import CasePhoto, Forward, TipPhoto
from storage.types import utcnow
from tests.web import dashboard_world as world
from tests.web.test_forwarding_pages import SUMMARY, _family_member, _post

POSTER = 0xA5A5_0F0F_3C3C_9999


async def test_the_tip_page_shows_a_recycled_image_and_possible_extortion(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
        lily = await world.case(session, full_name="Lily Chen", verified_at=utcnow())
        session.add(CasePhoto(case_id=lily.id, status="ready", phash=signed64(POSTER)))
        wei = await world.case(session, full_name="Wei Wang")
        tip = await world.tip(session, case_id=wei.id, text="先打钱到这个银行卡，别报警")
        session.add(TipPhoto(tip_id=tip.id, status="processed", phash=signed64(POSTER ^ 0b11)))
        await session.commit()
        await evaluate_tip(session, tip_id=tip.id, phash_index=PhashIndex(), now=utcnow())
    world.use(client, signed)
    page = await client.get(f"/tips/{tip.ref}")
    assert page.status_code == 200
    assert "Recycled image" in page.text and f"case {lily.ref}" in page.text
    assert "Possible extortion" in page.text


async def _extortion_lead(session):
    case = await world.case(session)
    await _family_member(session, case)
    text = "I know where she is. Send 5000 USD in bitcoin first or you never see her again."
    return await world.tip(session, case_id=case.id, text=text, status="promising")


async def _family_forwards(sessions) -> int:
    async with sessions() as session:
        stmt = select(func.count(Forward.id)).where(Forward.audience == "family")
        return int(await session.scalar(stmt) or 0)


async def test_a_moderator_is_refused_with_the_reason_and_a_senior_needs_the_approval(
    client, sessions
):
    async with sessions() as session:
        mod = await world.sign_in_as(session, "moderator")
        senior = await world.sign_in_as(session, "senior_moderator")
        tip = await _extortion_lead(session)
    url = f"/tips/{tip.ref}/forward/family"
    world.use(client, mod)
    page = await client.get(f"/tips/{tip.ref}/forward")
    assert "Possible extortion" in page.text and "approve_flagged" not in page.text
    refused = await _post(client, mod, url, summary=SUMMARY, approve_flagged="yes")
    assert refused.status_code == 403 and "only a senior moderator" in refused.text
    world.use(client, senior)
    page = await client.get(f"/tips/{tip.ref}/forward")
    assert 'name="approve_flagged"' in page.text
    unticked = await _post(client, senior, url, summary=SUMMARY)
    assert unticked.status_code == 403 and "tick" in unticked.text
    assert await _family_forwards(sessions) == 0
    done = await _post(
        client, senior, url, summary=SUMMARY, coarse_place="Xi'an", approve_flagged="yes"
    )
    assert done.status_code == 303
    assert await _family_forwards(sessions) == 1


async def test_the_scam_reports_page_lists_nothing_until_a_family_reports(client, sessions):
    async with sessions() as session:
        signed = await world.sign_in_as(session, "moderator")
    world.use(client, signed)
    page = await client.get("/scam-reports")
    assert page.status_code == 200 and "No scam reports." in page.text
