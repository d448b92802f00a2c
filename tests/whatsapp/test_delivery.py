"""Messages to people who came on WhatsApp, from the moderation use cases through the real relay
to the fake Graph API: a family lead, a tipster's notice and an area alert, free-form inside the
24-hour window and as their template outside it. Staff join through invitations; the people are
made by the product's own functions (a WhatsApp tipster, a family link, a volunteer sign-up).
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from core.alerts.volunteers import Area, subscribe_volunteer
from core.identity.tipsters import get_or_create_tipster
from core.limits import MemoryRateLimiter
from core.tips.drafts import Draft, DraftPlace
from core.tips.submission import submit_tip
from moderation.cases.families import create_family_link, link_family
from moderation.cases.lifecycle import transition_case
from moderation.forwarding.forward import FamilyLead
from moderation.review.decisions import Outcome, decide
from storage.models import Case, OutboxMessage, StaffUser, Tipster
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import Send
from tests.keys import TEST_VAULT
from tests.staff_cases import LAT, LON, staff_case
from tests.web import dashboard_world, front_door
from tests.whatsapp.world import World, relay_once, served

FAMILY, TIPSTER, VOLUNTEER = "8613800002222", "8613800003333", "8613800004444"
TIP_TEXT = "A girl in a red coat crying next to a grey van on Lianhu Road"
SUMMARY = "A girl matching the description was seen with an adult near a van."
QUESTION = "Which way did the van drive off?"
WINDOW = [True, False]
WINDOW_IDS = ["window open", "window closed"]


@dataclass
class Staff:
    """A senior moderator and a moderator, both through the front door."""

    senior: StaffUser
    moderator: StaffUser


@pytest.fixture
async def world(engine, sessions, tmp_path) -> AsyncIterator[World]:
    async with served(engine, sessions, tmp_path / "wa") as world:
        yield world


@pytest.fixture
async def staff(engine, sessions, tmp_path) -> Staff:
    context = dashboard_world.build_context(engine, sessions, tmp_path / "dashboard")
    async for client in dashboard_world.client_for(context):
        admin = await front_door.first_admin(client, sessions)
        senior = await front_door.invited(
            client, sessions, admin, email="senior@example.org", role="senior_moderator"
        )
        moderator = await front_door.invited(
            client, sessions, admin, email="mod@example.org", role="moderator"
        )
    return Staff(senior.user, moderator.user)


async def _person(sessions, phone: str, language: str = "en") -> int:
    """Someone who wrote to the tip line on WhatsApp (as the WhatsApp flows make them)."""
    async with sessions() as session:
        tipster = await get_or_create_tipster(
            session,
            TEST_VAULT,
            channel="whatsapp",
            external_id=phone,
            identity={},
            language=language,
        )
        return tipster.id


async def _writes(world: World, phone: str) -> None:
    """The person writes: their 24-hour window opens."""
    payload = wa.message(world.fake.phone_number_id, phone, *wa.text("hello"))
    assert await world.fake.deliver(world.url, payload) == 200


async def _case(sessions, staff: Staff, *, status: str = "verified") -> Case:
    return await staff_case(sessions, staff.senior, status=status)


async def _tip(sessions, case: Case, tipster_id: int) -> str:
    """A WhatsApp tipster's tip about the case, with a precise pin."""
    draft = Draft(
        text=TIP_TEXT,
        case_ref=case.ref,
        place=DraftPlace(source="pin", lat=LAT, lon=LON, label="Xi'an"),
        contact_allowed=True,
    )
    async with sessions() as session:
        receipt = await submit_tip(
            session,
            draft=draft,
            channel="whatsapp",
            source_key=f"whatsapp:test:{draft.draft_id}",
            tipster_id=tipster_id,
            language="en",
        )
        return receipt.ref


def _to(world: World, phone: str) -> list[Send]:
    return [send for send in world.fake.sends if send.to == phone]


def _parameters(send: Send) -> list[str]:
    return [p["text"] for p in send.body["template"]["components"][0]["parameters"]]


async def _rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _family_member(sessions, staff: Staff, case: Case) -> int:
    """A WhatsApp user linked to the case with a real one-time code."""
    member = await _person(sessions, FAMILY)
    async with sessions() as session:
        code = await create_family_link(session, staff=staff.senior, case_ref=case.ref)
        person = await session.get_one(Tipster, member)
        await link_family(session, tipster=person, code=code.code, limiter=MemoryRateLimiter())
    return member


@pytest.mark.parametrize("window", WINDOW, ids=WINDOW_IDS)
async def test_a_family_lead_reaches_a_family_member_on_whatsapp(world, sessions, staff, window):
    case = await _case(sessions, staff)
    await _family_member(sessions, staff, case)
    if window:
        await _writes(world, FAMILY)
    tip_ref = await _tip(sessions, case, await _person(sessions, TIPSTER))
    async with sessions() as session:
        await decide(
            session,
            staff=staff.moderator,
            tip_ref=tip_ref,
            outcome=Outcome.PROMISING,
            family=FamilyLead(summary=SUMMARY, coarse_place="Xi'an"),
        )
    await relay_once(world, sessions, hours_later=0 if window else 25)
    (lead,) = _to(world, FAMILY)
    lead_row = next(r for r in await _rows(sessions) if r.idempotency_key.startswith("forward:"))
    assert (lead_row.channel, lead_row.status, lead_row.external_id) == (
        "whatsapp",
        "sent",
        lead.wamid,
    )
    for secret in (TIP_TEXT, "34.26", "108.94", "Lianhu Road", "T-", TIPSTER):
        assert secret not in json.dumps(lead.body)
    if not window:
        assert lead.body["template"]["name"] == "tipline_family_lead"
        assert _parameters(lead) == [case.ref, SUMMARY]
        await relay_once(world, sessions)  # the full lead waits for the reply
        assert len(_to(world, FAMILY)) == 1
        await _writes(world, FAMILY)
        await relay_once(world, sessions)
        lead = _to(world, FAMILY)[-1]
        lead_row = next(r for r in await _rows(sessions) if r.external_id == lead.wamid)
        assert lead_row.idempotency_key.endswith(":reply")
    interactive = lead.body["interactive"]
    assert interactive["type"] == "list"
    assert SUMMARY in interactive["body"]["text"] and "Li Na" in interactive["body"]["text"]
    ids = [row["id"] for row in interactive["action"]["sections"][0]["rows"]]
    forward = lead_row.idempotency_key.split(":")[1]
    assert ids == [f"fam:{forward}:{answer}" for answer in ("mine", "not_mine", "unsure", "scam")]


@pytest.mark.parametrize("window", WINDOW, ids=WINDOW_IDS)
async def test_a_moderators_question_reaches_the_tipster_on_whatsapp(
    world, sessions, staff, window
):
    case = await _case(sessions, staff)
    tipster = await _person(sessions, TIPSTER, "zh-Hans")
    await _writes(world, TIPSTER)
    tip_ref = await _tip(sessions, case, tipster)
    async with sessions() as session:
        await decide(
            session,
            staff=staff.moderator,
            tip_ref=tip_ref,
            outcome=Outcome.NEEDS_INFO,
            question=QUESTION,
        )
    await relay_once(world, sessions, hours_later=0 if window else 25)
    (notice,) = _to(world, TIPSTER)
    if window:
        interactive = notice.body["interactive"]
        assert interactive["type"] == "button" and QUESTION in interactive["body"]["text"]
        (button,) = interactive["action"]["buttons"]
        assert button["reply"]["id"] == f"ans:{tip_ref}"
        return
    template = notice.body["template"]
    assert (template["name"], template["language"]["code"]) == ("tipline_tipster_notice", "zh_CN")
    (text,) = _parameters(notice)
    assert QUESTION in text and tip_ref in text and "\n" not in text


@pytest.mark.parametrize("window", WINDOW, ids=WINDOW_IDS)
async def test_an_area_alert_reaches_a_volunteer_on_whatsapp(world, sessions, staff, window):
    volunteer = await _person(sessions, VOLUNTEER)
    if window:
        await _writes(world, VOLUNTEER)
    async with sessions() as session:
        area = Area(lat=LAT + 0.01, lon=LON, label="Xi'an", timezone="Asia/Shanghai")
        await subscribe_volunteer(
            session, tipster_id=volunteer, area=area, radius_km=20, language="en", quiet=None
        )
    case = await _case(sessions, staff, status="active")
    await relay_once(world, sessions, hours_later=0 if window else 25)
    (alert,) = _to(world, VOLUNTEER)
    if not window:
        assert alert.body["template"]["name"] == "tipline_area_alert"
        assert _parameters(alert) == ["Li Na", "Lianhu, Xi'an", case.ref]
        async with sessions() as session:
            await transition_case(
                session, staff=staff.senior, ref=case.ref, to="closed", reason="found by police"
            )
        held = [r for r in await _rows(sessions) if r.idempotency_key.endswith(":reply")]
        assert [r.status for r in held] == ["cancelled"]  # the case ended: no stale alert
        return
    interactive = alert.body["interactive"]
    assert interactive["type"] == "button" and "Li Na" in interactive["body"]["text"]
    ids = [button["reply"]["id"] for button in interactive["action"]["buttons"]]
    assert ids == [f"va:report:{case.ref}", f"va:pause:{case.ref}"]
