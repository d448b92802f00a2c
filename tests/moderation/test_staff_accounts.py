"""Staff management: roles, deactivation, the last-admin guard, the second admin, the audit.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput
from moderation.staff.accounts import (
    LAST_ADMIN,
    change_role,
    decide_role_request,
    list_staff,
    set_active,
)
from moderation.staff.auth import resolve, token_hash
from storage.models import AuditEvent, StaffRoleRequest, StaffSession, StaffUser
from tests.moderation import factories


async def _audit(session) -> list[tuple[str, int | None, str, str | None]]:
    rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(e.action, e.actor_id, e.object_ref, e.reason) for e in rows]


async def _roles(session) -> dict[str, tuple[str, bool]]:
    users = (await session.scalars(select(StaffUser))).all()
    return {u.email: (u.role, u.active) for u in users}


async def test_a_role_change_is_audited_with_who_whom_what_and_why(session):
    admin = await factories.staff(session, "admin", "a@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    outcome = await change_role(
        session, actor=admin, staff_id=mod.id, role="senior_moderator", reason="two years here"
    )
    assert outcome == "changed"
    assert (await _roles(session))["m@example.org"] == ("senior_moderator", True)
    event = await session.scalar(select(AuditEvent))
    assert (event.action, event.actor_id, event.object_ref, event.reason) == (
        "staff.role",
        admin.id,
        str(mod.id),
        "two years here",
    )
    assert event.detail == {
        "email": "m@example.org",
        "before": "moderator",
        "after": "senior_moderator",
    }


@pytest.mark.parametrize("how", ["demote", "deactivate"])
async def test_the_last_active_admin_cannot_remove_themselves(session, how):
    admin = await factories.staff(session, "admin", "a@example.org")
    before = await _roles(session)
    with pytest.raises(InvalidInput, match=LAST_ADMIN):
        if how == "demote":
            await change_role(
                session, actor=admin, staff_id=admin.id, role="moderator", reason="x y"
            )
        else:
            await set_active(session, actor=admin, staff_id=admin.id, active=False, reason="x y")
    await session.rollback()
    assert await _roles(session) == before
    assert await _audit(session) == []


async def test_with_two_admins_one_may_step_down(session):
    one = await factories.staff(session, "admin", "one@example.org")
    await factories.staff(session, "admin", "two@example.org")
    await change_role(session, actor=one, staff_id=one.id, role="auditor", reason="stepping down")
    assert (await _roles(session))["one@example.org"] == ("auditor", True)


async def test_granting_admin_among_two_admins_waits_for_the_other_one(session):
    one = await factories.staff(session, "admin", "one@example.org")
    two = await factories.staff(session, "admin", "two@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    outcome = await change_role(session, actor=one, staff_id=mod.id, role="admin", reason="lead")
    assert outcome == "requested"
    assert (await _roles(session))["m@example.org"] == ("moderator", True)
    request = await session.scalar(select(StaffRoleRequest))
    with pytest.raises(InvalidInput, match="you asked for it"):
        await decide_role_request(session, actor=one, request_id=request.id, approve=True)
    await decide_role_request(session, actor=two, request_id=request.id, approve=True)
    assert (await _roles(session))["m@example.org"] == ("admin", True)
    with pytest.raises(InvalidInput, match="already decided"):
        await decide_role_request(session, actor=two, request_id=request.id, approve=True)
    actions = [a for a, *_ in await _audit(session)]
    assert actions == ["staff.role_requested", "staff.role"]


async def test_a_single_admin_grants_admin_alone(session):
    one = await factories.staff(session, "admin", "one@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    assert await change_role(session, actor=one, staff_id=mod.id, role="admin", reason="co-lead")
    assert (await _roles(session))["m@example.org"] == ("admin", True)


async def test_deactivation_ends_every_session_at_once_and_reactivation_lets_them_back(session):
    admin = await factories.staff(session, "admin", "a@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    session.add(StaffSession(token_hash=token_hash("t1"), staff_id=mod.id, verified=True))
    session.add(StaffSession(token_hash=token_hash("t2"), staff_id=mod.id, verified=True))
    await session.commit()
    assert [r.open_sessions for r in await list_staff(session) if r.user.id == mod.id] == [2]

    await set_active(session, actor=admin, staff_id=mod.id, active=False, reason="left the group")
    assert await resolve(session, token="t1") is None
    ended = await session.scalar(
        select(func.count(StaffSession.id)).where(StaffSession.ended_at.is_not(None))
    )
    assert ended == 2
    await set_active(session, actor=admin, staff_id=mod.id, active=True, reason="came back")
    assert await resolve(session, token="t1") is None  # old sessions stay ended
    assert [a for a, *_ in await _audit(session)] == ["staff.deactivate", "staff.reactivate"]


@pytest.mark.parametrize(
    ("role", "reason", "message"),
    [
        ("king", "because", "unknown staff role"),
        ("family", "because", "not a staff role"),
        ("auditor", "", "say why"),
        ("moderator", "because", "already is moderator"),
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(session, role, reason, message):
    admin = await factories.staff(session, "admin", "a@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    before = await _roles(session)
    with pytest.raises(InvalidInput, match=message):
        await change_role(session, actor=admin, staff_id=mod.id, role=role, reason=reason)
    await session.rollback()
    assert await _roles(session) == before


async def test_only_an_admin_manages_staff(session):
    senior = await factories.staff(session, "senior_moderator", "s@example.org")
    mod = await factories.staff(session, "moderator", "m@example.org")
    with pytest.raises(PermissionError):
        await change_role(session, actor=senior, staff_id=mod.id, role="admin", reason="please")
    with pytest.raises(PermissionError):
        await set_active(session, actor=senior, staff_id=mod.id, active=False, reason="please")
