"""The policy table, enforced on every route: generated from moderation.policy.POLICY.

1. Every route of the real app is either public (listed here, on purpose) or declares one policy
   action through `require(...)`; a route that does neither fails this test by name.
2. For every (role, dashboard route), a signed-in member of that role gets 2xx/3xx when the
   policy allows the route's action and 403 when it does not; a refusal is audited as
   access.denied and changes nothing else. Every guarded route needs a sample request: here in
   SAMPLES, or beside the tests of the pages that own it (the forwarding pages keep theirs in
   tests/web/test_forwarding_pages.py and run the same matrix there).

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select
from starlette.routing import Mount

from moderation.policy import POLICY, can
from moderation.staff.invites import create_invite
from storage.models import (
    AuditEvent,
    Decision,
    ErasureRequest,
    OutboxMessage,
    RevealRequest,
    StaffInvite,
    StaffRoleRequest,
    StaffSession,
    StaffUser,
    Tip,
    TipNote,
    Tipster,
    TipsterIdentity,
)
from tests.web import dashboard_world as world
from web.app import WebContext, create_app
from web.dashboard.deps import route_actions

# Routes anyone may reach without signing in. Adding to this set is a security decision.
PUBLIC = {
    "/",
    "/healthz",
    # Operators' Prometheus endpoint: its own bearer token (TIPLINE_METRICS_TOKEN), 404 unset.
    "/metrics",
    "/report",
    "/people/new",
    "/status",
    "/login",
    "/login/code",
    "/setup/{token}",
    "/telegram/webhook",
    # Meta's webhook: verify token (GET), X-Hub-Signature-256 (POST); 404 with WhatsApp off.
    "/whatsapp/webhook",
    # The SMS provider's webhooks: X-Twilio-Signature over the URL and form; 404 with SMS off.
    "/sms/webhook",
    "/sms/status",
    "/static",
    "/api/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
    # Public case pages (web/public/people.py): public fields of verified cases only.
    "/people",
    "/people/{ref}",
    "/people/{ref}/photos/{number:int}.jpg",
    "/people/{ref}/photos/{number:int}-thumb.jpg",
    "/people/{ref}/poster.{kind}",
}


def _app_routes() -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    context = WebContext(
        engine=None,  # type: ignore[arg-type] - routes are read, never called
        sessions=None,  # type: ignore[arg-type]
        head_revision="head",
        bot_mode="disabled",
        media_dir=Path("/nonexistent"),
        secret=world.SECRET,
        geocoder=None,  # type: ignore[arg-type]
    )
    app = create_app(context)
    routes = []
    # Included routers are a tree since FastAPI 0.137: iter_route_contexts walks all of it.
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            routes.append(("*", route.path))
        else:
            routes.extend((method, route.path) for method in sorted(route.methods or ()))
    return routes, route_actions(app)


ROUTES, ACTIONS = _app_routes()


def test_the_route_walk_sees_the_whole_app():
    # A walk that misses included routers would make every other test here pass vacuously.
    for route in (("GET", "/report"), ("GET", "/login"), ("GET", "/queue"), ("GET", "/tips/{ref}")):
        assert route in ROUTES
    assert ACTIONS[("GET", "/queue")] == "queue.view"
    assert len(ACTIONS) >= 19


def test_every_route_is_public_or_declares_one_policy_action():
    unguarded = [
        f"{method} {path}"
        for method, path in ROUTES
        if path not in PUBLIC and (method, path) not in ACTIONS and method != "HEAD"
    ]
    assert not unguarded, f"routes with no policy action (add require(...)): {unguarded}"
    assert all(action in POLICY for action in ACTIONS.values())
    assert not [route for route in ACTIONS if route[1] in PUBLIC], "a public route is guarded"


@dataclass
class Request:
    """What to send to one route, made against a fresh world."""

    url: str
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None  # multipart uploads


Sample = Callable[[Any, world.Signed, Any], Awaitable[Request]]


async def _vetted_tip(session):
    return await world.tip(session, status="promising")


async def _queue(session, signed, context):
    return Request("/queue")


async def _claim_next(session, signed, context):
    await world.tip(session)
    return Request("/queue/claim-next", {})


async def _bulk(session, signed, context):
    group = await world.cluster(session, [await world.tip(session), await world.tip(session)])
    return Request(f"/clusters/{group.ref}/decide", {"outcome": "not_relevant"})


async def _tip(session, signed, context):
    return Request(f"/tips/{(await _vetted_tip(session)).ref}")


async def _decide(session, signed, context):
    return Request(f"/tips/{(await world.tip(session)).ref}/decide", {"outcome": "not_relevant"})


async def _note(session, signed, context):
    return Request(f"/tips/{(await _vetted_tip(session)).ref}/notes", {"text": "checked"})


async def _release(session, signed, context):
    return Request(f"/tips/{(await world.tip(session)).ref}/release", {})


async def _display(session, signed, context):
    photo = await world.photo(session, context.photos, await _vetted_tip(session), 10)
    return Request(f"/media/display/{photo.row.display_sha256}")


async def _original(session, signed, context):
    photo = await world.photo(session, context.photos, await _vetted_tip(session), 20)
    return Request(f"/media/original/{photo.row.original_sha256}")


async def _cases(session, signed, context):
    return Request("/cases")


async def _case(session, signed, context):
    return Request(f"/cases/{(await world.case(session)).ref}")


async def _account(session, signed, context):
    return Request("/account")


async def _logout(session, signed, context):
    return Request("/logout", {})


async def _ask_reveal(session, signed, context):
    tipster = await world.tipster(session)
    tip = await world.tip(session, status="promising", tipster_id=tipster.id)
    return Request(f"/tips/{tip.ref}/reveal", {"reason": "the family says she phoned this number"})


async def _reveals(session, signed, context):
    return Request("/reveals")


async def _pending_reveal(session, context) -> int:
    """A request by another senior moderator for a tipster with a sealed identity."""
    asker = await world.staff(session, "senior_moderator")
    tipster = await world.tipster(session)
    session.add(
        TipsterIdentity(
            tipster_id=tipster.id,
            lookup_hash=context.vault.lookup_hash("telegram", str(tipster.id)),
            ciphertext=context.vault.seal({"chat_id": 42, "username": "seen_it"}),
        )
    )
    row = RevealRequest(tipster_id=tipster.id, requested_by=asker.id, reason="x" * 30)
    session.add(row)
    await session.commit()
    return row.id


async def _approve(session, signed, context):
    return Request(f"/reveals/{await _pending_reveal(session, context)}/approve", {})


async def _refuse(session, signed, context):
    return Request(f"/reveals/{await _pending_reveal(session, context)}/refuse", {"reason": "no"})


async def _erasures(session, signed, context):
    return Request("/erasures")


async def _ask_erasure(session, signed, context):
    await _pending_reveal(session, context)  # a tipster with a sealed identity
    tipster = (await session.scalars(select(TipsterIdentity))).first()
    pseudonym = await session.scalar(
        select(Tipster.pseudonym).where(Tipster.id == tipster.tipster_id)
    )
    return Request(
        "/erasures", {"pseudonym": pseudonym, "reason": "the tipster asked us by e-mail"}
    )


async def _pending_erasure(session, context) -> int:
    await _pending_reveal(session, context)
    asker = await world.staff(session, "senior_moderator")
    identity = (await session.scalars(select(TipsterIdentity))).first()
    row = ErasureRequest(tipster_id=identity.tipster_id, requested_by=asker.id, reason="x" * 30)
    session.add(row)
    await session.commit()
    return row.id


async def _approve_erasure(session, signed, context):
    return Request(f"/erasures/{await _pending_erasure(session, context)}/approve", {})


async def _refuse_erasure(session, signed, context):
    return Request(f"/erasures/{await _pending_erasure(session, context)}/refuse", {"reason": "no"})


async def _audit(session, signed, context):
    return Request("/audit?action=signin")


async def _export(session, signed, context):
    return Request("/audit/export", {"action": "tip.view"})


async def _dead(session, signed, context):
    return Request("/system/dead")


async def _retry_dead(session, signed, context):
    row = OutboxMessage(
        idempotency_key=f"dead-{id(signed)}",
        channel="telegram",
        recipient="chat:-100",
        payload={"text": "x"},
        status="dead",
        attempts=8,
        last_error="Forbidden: bot was kicked",
    )
    session.add(row)
    await session.commit()
    return Request("/system/dead/retry", {"kind": "outbox", "id": str(row.id)})


async def _telegram_link(session, signed, context):
    return Request("/account/telegram-link", {})


async def _telegram_unlink(session, signed, context):
    return Request("/account/telegram-unlink", {})


async def _staff_page(session, signed, context):
    return Request("/staff")


async def _invite(session, signed, context):
    email = f"new-{id(signed)}@example.org"
    return Request(
        "/staff/invites", {"email": email, "role": "moderator", "reason": "new volunteer"}
    )


async def _other_admins_invite(session) -> StaffInvite:
    """An admin invitation by another admin, among two admins: it waits for approval."""
    other = await world.staff(session, "admin")
    await world.staff(session, "admin")
    new = await create_invite(
        session, role="admin", email=f"x{other.id}@example.org", created_by=other, reason="lead"
    )
    return new.invite


async def _revoke_invite(session, signed, context):
    invite = await _other_admins_invite(session)
    return Request(f"/staff/invites/{invite.id}/revoke", {"reason": "wrong address"})


async def _approve_invite(session, signed, context):
    invite = await _other_admins_invite(session)
    return Request(f"/staff/invites/{invite.id}/approve", {})


async def _colleague(session, signed, context, path: str, data: dict[str, str]):
    colleague = await world.staff(session, "moderator")
    return Request(f"/staff/{colleague.id}/{path}", data)


async def _role(session, signed, context):
    return await _colleague(
        session, signed, context, "role", {"role": "senior_moderator", "reason": "trusted"}
    )


async def _deactivate(session, signed, context):
    return await _colleague(session, signed, context, "deactivate", {"reason": "left"})


async def _reactivate(session, signed, context):
    colleague = await world.staff(session, "moderator")
    colleague.active = False
    await session.commit()
    return Request(f"/staff/{colleague.id}/reactivate", {"reason": "back"})


async def _reset_2fa(session, signed, context):
    return await _colleague(session, signed, context, "reset-2fa", {"reason": "lost phone"})


async def _role_request(session) -> int:
    asker = await world.staff(session, "admin")
    await world.staff(session, "admin")
    target = await world.staff(session, "moderator")
    row = StaffRoleRequest(staff_id=target.id, role="admin", reason="lead", requested_by=asker.id)
    session.add(row)
    await session.commit()
    return row.id


async def _approve_request(session, signed, context):
    return Request(f"/staff/requests/{await _role_request(session)}/approve", {})


async def _refuse_request(session, signed, context):
    return Request(f"/staff/requests/{await _role_request(session)}/refuse", {})


async def _scam_reports(session, signed, context):
    return Request("/scam-reports")


async def _imports(session, signed, context):
    return Request("/imports")


async def _import_upload(session, signed, context):
    # A file of no people: the import starts and ends at once.
    csv = ("empty.csv", b"source_id,full_name\n", "text/csv")
    return Request("/imports", {"source": "Shelter"}, files=[("file", csv)])


async def _import_page(session, signed, context):
    from core.cases.people_import import Batch
    from moderation.cases.people_imports import start_import

    job = await start_import(
        session,
        staff=None,
        source_name="Shelter",
        file_name="x.csv",
        batch=Batch(),
        owner=context.import_owner,
    )
    return Request(f"/imports/{job.id}")


# One sample request per dashboard route; a new route fails test_every_route_has_a_sample.
SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/queue"): _queue,
    ("POST", "/queue/claim-next"): _claim_next,
    ("POST", "/clusters/{ref}/decide"): _bulk,
    ("GET", "/tips/{ref}"): _tip,
    ("POST", "/tips/{ref}/decide"): _decide,
    ("POST", "/tips/{ref}/notes"): _note,
    ("POST", "/tips/{ref}/release"): _release,
    ("GET", "/media/display/{sha}"): _display,
    ("GET", "/media/original/{sha}"): _original,
    ("GET", "/cases"): _cases,
    ("GET", "/cases/{ref}"): _case,
    ("GET", "/account"): _account,
    ("POST", "/logout"): _logout,
    ("POST", "/tips/{ref}/reveal"): _ask_reveal,
    ("GET", "/reveals"): _reveals,
    ("POST", "/reveals/{request_id}/approve"): _approve,
    ("POST", "/reveals/{request_id}/refuse"): _refuse,
    ("GET", "/erasures"): _erasures,
    ("POST", "/erasures"): _ask_erasure,
    ("POST", "/erasures/{request_id}/approve"): _approve_erasure,
    ("POST", "/erasures/{request_id}/refuse"): _refuse_erasure,
    ("GET", "/audit"): _audit,
    ("POST", "/audit/export"): _export,
    ("GET", "/system/dead"): _dead,
    ("POST", "/system/dead/retry"): _retry_dead,
    ("POST", "/account/telegram-link"): _telegram_link,
    ("POST", "/account/telegram-unlink"): _telegram_unlink,
    ("GET", "/staff"): _staff_page,
    ("POST", "/staff/invites"): _invite,
    ("POST", "/staff/invites/{invite_id}/revoke"): _revoke_invite,
    ("POST", "/staff/invites/{invite_id}/approve"): _approve_invite,
    ("POST", "/staff/{staff_id}/role"): _role,
    ("POST", "/staff/{staff_id}/deactivate"): _deactivate,
    ("POST", "/staff/{staff_id}/reactivate"): _reactivate,
    ("POST", "/staff/{staff_id}/reset-2fa"): _reset_2fa,
    ("POST", "/staff/requests/{request_id}/approve"): _approve_request,
    ("POST", "/staff/requests/{request_id}/refuse"): _refuse_request,
    ("GET", "/scam-reports"): _scam_reports,
    ("GET", "/imports"): _imports,
    ("POST", "/imports"): _import_upload,
    ("GET", "/imports/{job_id:int}"): _import_page,
}


def _samples_elsewhere() -> set[tuple[str, str]]:
    """Routes whose sample requests (and the same role matrix) live beside their own tests."""
    from tests.web.test_case_admin import CASE_ADMIN_SAMPLES  # imports this module
    from tests.web.test_forwarding_pages import FORWARDING_SAMPLES  # imports this module
    from tests.web.test_matches_page import MATCHES_SAMPLES  # imports this module
    from tests.web.test_tip_links import LINK_SAMPLES  # imports this module

    return (
        set(FORWARDING_SAMPLES) | set(CASE_ADMIN_SAMPLES) | set(MATCHES_SAMPLES) | set(LINK_SAMPLES)
    )


def test_every_dashboard_route_has_a_sample_request():
    covered = SAMPLES.keys() | _samples_elsewhere()
    missing = sorted(f"{m} {p}" for m, p in ACTIONS if (m, p) not in covered and m != "HEAD")
    assert not missing, f"add a sample request to SAMPLES for: {missing}"


CASES = [
    pytest.param(role, method, path, id=f"{role}-{method}-{path}")
    for (method, path) in sorted(ACTIONS)
    if (method, path) in SAMPLES
    for role in world.ROLES
]


async def _state(sessions) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    async with sessions() as session:
        tips = (
            await session.execute(select(Tip.id, Tip.status, Tip.claimed_by).order_by(Tip.id))
        ).all()
        return (
            [tuple(t) for t in tips],
            await session.scalar(select(func.count(Decision.id))),
            await session.scalar(select(func.count(TipNote.id))),
            await session.scalar(
                select(func.count(StaffSession.id)).where(StaffSession.ended_at.is_(None))
            ),
            await session.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action != "access.denied")
            ),
            (await session.execute(select(RevealRequest.id, RevealRequest.status))).all(),
            (await session.execute(select(StaffUser.id, StaffUser.role, StaffUser.active))).all(),
            (await session.execute(select(StaffInvite.id, StaffInvite.revoked_at))).all(),
            (await session.execute(select(StaffRoleRequest.id, StaffRoleRequest.status))).all(),
            (await session.execute(select(ErasureRequest.id, ErasureRequest.status))).all(),
            await session.scalar(select(func.count(TipsterIdentity.id))),
        )


@pytest.mark.parametrize(("role", "method", "path"), CASES)
async def test_each_role_reaches_exactly_the_routes_the_policy_allows(
    client, sessions, context, role, method, path
):
    action = ACTIONS[(method, path)]
    async with sessions() as session:
        signed = await world.sign_in_as(session, role)
        request = await SAMPLES[(method, path)](session, signed, context)
    before = await _state(sessions)
    world.use(client, signed)
    if request.data is None:
        response = await client.get(request.url)
    else:
        data = {**request.data, "csrf": signed.csrf}
        response = await client.post(request.url, data=data, files=request.files)

    if can(role, action):
        assert 200 <= response.status_code < 400, (role, action, response.text[:300])
        return
    assert response.status_code == 403, (role, action, response.status_code)
    assert await _state(sessions) == before
    async with sessions() as session:
        denied = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        ).all()
    assert [(e.actor_id, e.detail["wanted"]) for e in denied] == [(signed.user.id, action)]
