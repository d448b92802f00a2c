"""The tip page's moderator loop on the web: the link-to-case form (a tip or its cluster), unlink,
the face panel's verdict buttons, answers at the top of the page and the asker's badge.
LINK_SAMPLES feeds the policy route matrix. SQLite and PostgreSQL, through the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from moderation.policy import can
from moderation.review.answers import receive_answer
from moderation.review.decisions import Outcome, decide
from storage.models import (
    AuditEvent,
    CasePhoto,
    FaceEmbedding,
    FaceMatch,
    FaceVerdict,
    StaffUser,
    Tip,
)
from tests.web import dashboard_world as world
from tests.web.test_policy_routes import Request


async def _face_match(session, context, tip: Tip, case) -> None:
    photo = await world.photo(session, context.photos, tip, 60)
    case_photo = CasePhoto(
        case_id=case.id,
        status="ready",
        display_sha256=context.photos.display.put(world.jpeg((9, 9, 200))),
    )
    session.add(case_photo)
    await session.flush()
    tip_face = FaceEmbedding(tip_photo_id=photo.row.id, vector=b"\0" * 512)
    case_face = FaceEmbedding(case_photo_id=case_photo.id, case_id=case.id, vector=b"\0" * 512)
    session.add_all([tip_face, case_face])
    await session.flush()
    session.add(
        FaceMatch(
            tip_face_id=tip_face.id,
            case_face_id=case_face.id,
            tip_id=tip.id,
            case_id=case.id,
            similarity=0.82,
            distance=0.2,
        )
    )
    await session.commit()


async def _link_sample(session, signed, context):
    case, tip = await world.case(session), await world.tip(session)
    return Request(f"/tips/{tip.ref}/link", {"case_ref": case.ref, "scope": "tip"})


async def _unlink_sample(session, signed, context):
    tip = await world.tip(session, case_id=(await world.case(session)).id)
    return Request(f"/tips/{tip.ref}/unlink", {"scope": "tip"})


async def _face_sample(session, signed, context):
    case, tip = await world.case(session), await world.tip(session)
    await _face_match(session, context, tip, case)
    return Request(f"/tips/{tip.ref}/faces", {"case_ref": case.ref, "verdict": "same"})


LINK_SAMPLES = {
    ("POST", "/tips/{ref}/link"): _link_sample,
    ("POST", "/tips/{ref}/unlink"): _unlink_sample,
    ("POST", "/tips/{ref}/faces"): _face_sample,
}


async def _state(sessions) -> tuple[Any, ...]:
    async with sessions() as session:
        tips = (
            await session.execute(select(Tip.id, Tip.case_id, Tip.score).order_by(Tip.id))
        ).all()
        return (
            [tuple(t) for t in tips],
            await session.scalar(select(func.count(FaceVerdict.id))),
            await session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action != "access.denied")
            ),
        )


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        pytest.param(role, method, path, id=f"{role}-{method}-{path}")
        for method, path in sorted(LINK_SAMPLES)
        for role in world.ROLES
    ],
)
async def test_each_role_reaches_exactly_the_link_routes_the_policy_allows(
    client, sessions, context, role, method, path
):
    from tests.web.test_policy_routes import ACTIONS

    action = ACTIONS[(method, path)]
    async with sessions() as session:
        signed = await world.sign_in_as(session, role)
        request = await LINK_SAMPLES[(method, path)](session, signed, context)
    before = await _state(sessions)
    world.use(client, signed)
    response = await client.post(request.url, data={**(request.data or {}), "csrf": signed.csrf})
    if can(role, action):
        assert response.status_code == 303, (role, response.text[:300])
        assert await _state(sessions) != before
        return
    assert response.status_code == 403
    assert await _state(sessions) == before


def _form(html: str, form_id: str) -> str:
    found = re.search(rf'<form id="{form_id}"[^>]*>.*?</form>', html, re.S)
    assert found, f"no form {form_id}"
    return found.group(0)


async def test_a_moderator_links_a_tip_from_its_page_and_unlinks_it(client, sessions):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        case = await world.case(session, full_name="Zhang Min")
        row = await world.tip(session)
    world.use(client, moderator)
    html = (await client.get(f"/tips/{row.ref}")).text
    form = _form(html, "link-case")
    assert f'action="/tips/{row.ref}/link"' in form and 'name="case_ref"' in form
    assert '<button type="submit" name="scope" value="tip">Link this tip</button>' in form
    assert "Link the whole cluster" not in form  # the tip is in no cluster
    assert f'<option value="{case.ref}">Zhang Min</option>' in html
    assert 'id="unlink-case"' not in html
    response = await client.post(
        f"/tips/{row.ref}/link",
        data={"csrf": world.hidden(form, "csrf"), "case_ref": case.ref, "scope": "tip"},
    )
    assert response.status_code == 303
    page = (await client.get(response.headers["location"])).text
    assert f"Linked 1 tip(s) to case {case.ref}" in page
    assert f'<a href="/cases/{case.ref}">{case.ref}</a> Zhang Min' in page
    unlink = _form(page, "unlink-case")
    response = await client.post(
        f"/tips/{row.ref}/unlink", data={"csrf": world.hidden(unlink, "csrf"), "scope": "tip"}
    )
    assert response.status_code == 303
    async with sessions() as session:
        assert (await session.get(Tip, row.id)).case_id is None
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "tip.link_case" in actions and "tip.unlink_case" in actions


async def test_a_whole_cluster_is_linked_from_one_tips_page(client, sessions):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        case = await world.case(session)
        tips = [await world.tip(session), await world.tip(session)]
        await world.cluster(session, tips)
    world.use(client, moderator)
    form = _form((await client.get(f"/tips/{tips[0].ref}")).text, "link-case")
    assert (
        '<button type="submit" name="scope" value="cluster">Link the whole cluster</button>' in form
    )
    response = await client.post(
        f"/tips/{tips[0].ref}/link",
        data={"csrf": moderator.csrf, "case_ref": case.ref, "scope": "cluster"},
    )
    assert response.status_code == 303
    async with sessions() as session:
        linked = (await session.scalars(select(Tip.case_id).order_by(Tip.id))).all()
    assert linked == [case.id, case.id]


@pytest.mark.parametrize(
    ("path", "data", "words"),
    [
        ("link", {"case_ref": "ZZZZ-ZZZZ"}, "no case has the reference ZZZZ-ZZZZ"),
        ("link", {"case_ref": ""}, "give the reference of the case to link to"),
        ("unlink", {}, "is not linked to a case; nothing changed"),
    ],
)
async def test_bad_links_get_a_clear_page_and_change_nothing(client, sessions, path, data, words):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        row = await world.tip(session)
    before = await _state(sessions)
    world.use(client, moderator)
    response = await client.post(f"/tips/{row.ref}/{path}", data={"csrf": moderator.csrf, **data})
    assert response.status_code == 400
    assert words in response.text and "Traceback" not in response.text
    assert f'href="/tips/{row.ref}"' in response.text  # a way back to the tip
    assert await _state(sessions) == before


async def test_the_face_panel_asks_once_and_same_child_links_the_tip(client, sessions, context):
    async with sessions() as session:
        moderator = await world.sign_in_as(session, "moderator")
        case = await world.case(session)
        row = await world.tip(session)
        await _face_match(session, context, row, case)
    world.use(client, moderator)
    html = (await client.get(f"/tips/{row.ref}")).text
    assert f'<input type="hidden" name="case_ref" value="{case.ref}">' in html
    assert '<button type="submit" name="verdict" value="same">Same child</button>' in html
    response = await client.post(
        f"/tips/{row.ref}/faces",
        data={"csrf": moderator.csrf, "case_ref": case.ref, "verdict": "same"},
    )
    assert response.status_code == 303
    html = (await client.get(f"/tips/{row.ref}")).text
    assert f"Same child, judged by {moderator.user.email}" in html
    assert 'name="verdict"' not in html  # the panel does not ask again
    async with sessions() as session:
        assert (await session.get(Tip, row.id)).case_id == case.id
    again = await client.post(
        f"/tips/{row.ref}/faces",
        data={"csrf": moderator.csrf, "case_ref": case.ref, "verdict": "not_same"},
    )
    assert again.status_code == 400 and "already judged" in again.text


async def test_an_answer_shows_at_the_top_of_the_tip_and_on_the_askers_badge(client, sessions):
    async with sessions() as session:
        asker = await world.sign_in_as(session, "moderator", email="li.na@example.org")
        colleague = await world.sign_in_as(session, "moderator")
        person = await world.tipster(session)
        row = await world.tip(session, tipster_id=person.id)
        staff = await session.get(StaffUser, asker.user.id)
        await decide(
            session, staff=staff, tip_ref=row.ref, outcome=Outcome.NEEDS_INFO, question="Which bus?"
        )
    world.use(client, asker)
    assert 'id="answers-badge"' not in (await client.get("/queue")).text
    async with sessions() as session:
        await receive_answer(session, ref=row.ref, tipster_id=person.id, text="The number 7")
    queue = (await client.get("/queue")).text
    badge = re.search(r'<a id="answers-badge"[^>]*href="([^"]+)"[^>]*>([^<]+)</a>', queue)
    assert badge and badge.group(2) == "1 answer"
    mine = (await client.get(badge.group(1).replace("&amp;", "&"))).text
    assert row.ref in mine and "answered a question you asked" in mine
    page = (await client.get(f"/tips/{row.ref}")).text
    top = page.index('id="answer"')
    assert top < page.index("What was seen")
    assert "from li.na@example.org" in page and "Which bus?" in page and "The number 7" in page
    world.use(client, colleague)
    assert 'id="answers-badge"' not in (await client.get("/queue")).text
