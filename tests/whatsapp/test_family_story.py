"""A family linked on WhatsApp, end to end through the front doors: staff invited and enrolled
register a case and make a family link on the dashboard; the family member sends the code on
WhatsApp; a tipster reports about the case on WhatsApp; a moderator forwards it as promising;
the lead reaches the family on WhatsApp with no tipster identity or precise place; the family's
"that's my child" is recorded and shown to the moderator; the tipster is told. On SQLite and
PostgreSQL, against the fake Graph API on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest

from core.i18n import Texts
from storage.types import utcnow
from tests.fakes.whatsapp import payloads as wa
from tests.fakes.whatsapp.server import Send
from tests.keys import TEST_VAULT
from tests.web import dashboard_world, front_door
from tests.whatsapp.chats import Line, whatsapp_line
from tests.whatsapp.chats import line as read_line

EN, ZH = Texts("en", "chat"), Texts("zh-Hans", "chat")
NUMBER = "447700900555"
FAMILY, TIPSTER = "8613800002222", "447700900777"
SIGHTING = "A girl in a red coat crying next to a grey van on Lianhu Road"
SUMMARY = "A girl matching the description was seen with an adult near a van."
LAT, LON = 34.261234, 108.942345  # the case's place; the sighting is a pin nearby
WA_LINK = re.compile(r'id="whatsapp-link" href="https://wa\.me/(\d+)\?text=([^"]+)"')


@pytest.fixture
async def line(engine, sessions, tmp_path):
    async with whatsapp_line(engine, sessions, tmp_path) as line:
        yield line


@pytest.fixture
async def client(engine, sessions, tmp_path):
    """The dashboard of the same deployment (its vault), with the WhatsApp number set."""
    built = dashboard_world.build_context(engine, sessions, tmp_path / "dashboard")
    context = dataclasses.replace(built, vault=TEST_VAULT, whatsapp_number=NUMBER)
    async for client in dashboard_world.client_for(context):
        yield client


def _post(client, signed, url: str, **data: str):
    dashboard_world.use(client, signed)
    return client.post(url, data={**data, "csrf": signed.csrf})


async def _register_case(client, senior) -> str:
    """The staff form, then verified and active."""
    seen = utcnow() - timedelta(hours=3)
    ref = await front_door.register_case(
        client,
        senior,
        full_name="Li Na",
        sex="female",
        age_years="7",
        description="red coat",
        last_seen_date=f"{seen:%Y-%m-%d}",
        last_seen_time=f"{seen:%H:%M}",
        last_seen_place="Xi'an",
        lat=str(LAT),
        lon=str(LON),
        police_ref="XA-2026-17",
        contact="mother 139 1111 2222",
    )
    for to in ("verified", "active"):
        moved = await _post(client, senior, f"/cases/{ref}/transition", to=to, reason="checked")
        assert moved.status_code == 303, moved.text[:500]
    return ref


async def _family_link(client, senior, ref: str) -> str:
    """The one-time link's WhatsApp way: wa.me to the business number, the code typed in."""
    page = await _post(client, senior, f"/cases/{ref}/family-links")
    assert page.status_code == 200
    found = WA_LINK.search(page.text)
    assert found, page.text[:2000]
    number, text = found.groups()
    assert number == NUMBER
    return unquote(text)


async def _report(line: Line, ref: str) -> str:
    """The tipster looks the case up with /case, taps its "Report a sighting", reports."""
    line.phone = TIPSTER
    (card,) = await line.sends(*wa.text(f"/case {ref}"))
    assert "Li Na" in read_line(card) and EN("case.code", ref=ref) in read_line(card)
    (about, *_) = await line.taps(card, EN("case.button_report"))
    assert "Li Na" in read_line(about)
    return await line.reports(SIGHTING)


def _to(sends: list[Send], phone: str) -> list[Send]:
    return [send for send in sends if send.to == phone]


async def test_a_family_linked_on_whatsapp_gets_the_lead_and_answers_it(line, client, sessions):
    admin = await front_door.first_admin(client, sessions)
    senior = await front_door.invited(
        client, sessions, admin, email="senior@example.org", role="senior_moderator"
    )
    moderator = await front_door.invited(
        client, sessions, admin, email="mod@example.org", role="moderator"
    )
    ref = await _register_case(client, senior)
    code_message = await _family_link(client, senior, ref)
    assert code_message.startswith("family_")

    line.phone = FAMILY
    (linked,) = await line.sends(*wa.text(code_message))
    assert read_line(linked) == ZH("family.linked", name="Li Na", case=ref)  # a Chinese number

    tip_ref = await _report(line, ref)
    decided = await _post(
        client,
        moderator,
        f"/tips/{tip_ref}/forward/decide",
        outcome="promising",
        summary=SUMMARY,
        coarse_place="Xi'an",
    )
    assert decided.status_code == 303, decided.text[:500]
    delivered = await line.settle()

    (lead,) = _to(delivered, FAMILY)
    body = json.dumps(lead.body, ensure_ascii=False)
    assert SUMMARY in body and "Li Na" in body
    for secret in (SIGHTING, "Lianhu", "34.26", "108.94", TIPSTER, tip_ref):
        assert secret not in body
    (notice,) = _to(delivered, TIPSTER)
    assert tip_ref in read_line(notice)

    line.phone = FAMILY
    rows = lead.body["interactive"]["action"]["sections"][0]["rows"]
    mine = next(row for row in rows if row["id"].endswith(":mine"))
    (thanks,) = await line.sends(*wa.list_reply(mine["id"], mine["title"]))
    assert read_line(thanks) == ZH("family.thanks_mine")

    dashboard_world.use(client, moderator)
    page = await client.get(f"/tips/{tip_ref}/forward")
    assert "that's my child 1" in page.text
