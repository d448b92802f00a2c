"""The audit trail: auditors filter and export it, exporting is audited, nothing rewrites it."""

from __future__ import annotations

import ast
import csv
import io
import itertools
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit import record
from core.errors import InvalidInput
from moderation.audit import COLUMNS, AuditFilter, export_csv, list_events
from storage.models import AuditEvent
from storage.types import utcnow
from tests.moderation import factories

ROOT = Path(__file__).resolve().parents[2]
_serial = itertools.count(1)


async def _staff(session, role: str):
    return await factories.staff(session, role, email=f"{role}-{next(_serial)}@example.org")


async def _seed(session):
    """Three events by two people, and a hostile e-mail typed at the sign-in form."""
    mod = await _staff(session, "moderator")
    senior = await _staff(session, "senior_moderator")
    await record(
        session,
        actor_id=mod.id,
        actor_role=mod.role,
        action="tip.spam",
        object_type="tip",
        object_ref="AAAA-1111",
    )
    await record(
        session,
        actor_id=senior.id,
        actor_role=senior.role,
        action="tip.promising",
        object_type="tip",
        object_ref="BBBB-2222",
        reason="matches the case photo, 两个人",
        detail={"via": "web"},
    )
    await record(
        session,
        actor_role="anonymous",
        action="signin.failed",
        object_type="staff_user",
        object_ref='=HYPERLINK("http://evil","x")',
    )
    await session.commit()
    return mod, senior


async def test_an_auditor_filters_by_actor_action_type_and_time(sessions):
    async with sessions() as session:
        mod, _ = await _seed(session)
        auditor = await _staff(session, "auditor")
        everything = await list_events(session, staff=auditor)
        by_mod = await list_events(session, staff=auditor, filters=AuditFilter(actor_id=mod.id))
        spam = await list_events(session, staff=auditor, filters=AuditFilter(action="tip.spam"))
        tips = await list_events(session, staff=auditor, filters=AuditFilter(object_type="tip"))
        now = utcnow()
        recent = await list_events(
            session, staff=auditor, filters=AuditFilter(since=now - timedelta(minutes=5))
        )
        future = await list_events(
            session, staff=auditor, filters=AuditFilter(since=now + timedelta(minutes=5))
        )
        past = await list_events(
            session, staff=auditor, filters=AuditFilter(until=now - timedelta(minutes=5))
        )
        page = await list_events(session, staff=auditor, limit=1, offset=1)
    assert [e.action for e in everything] == ["signin.failed", "tip.promising", "tip.spam"]
    assert [e.object_ref for e in by_mod] == ["AAAA-1111"]
    assert [e.actor_id for e in spam] == [mod.id]
    assert {e.object_ref for e in tips} == {"AAAA-1111", "BBBB-2222"}
    assert len(recent) == 3 and future == [] and past == []
    assert [e.action for e in page] == ["tip.promising"]


async def test_an_admin_may_view_but_only_an_auditor_may_export(sessions):
    async with sessions() as session:
        await _seed(session)
        admin = await _staff(session, "admin")
        assert len(await list_events(session, staff=admin)) == 3
        with pytest.raises(PermissionError):
            await export_csv(session, staff=admin)


@pytest.mark.parametrize("role", ["moderator", "senior_moderator", "police_liaison"])
async def test_reviewers_and_police_cannot_read_the_trail(sessions, role):
    async with sessions() as session:
        someone = await _staff(session, role)
        with pytest.raises(PermissionError):
            await list_events(session, staff=someone)
        with pytest.raises(PermissionError):
            await export_csv(session, staff=someone)


async def test_a_page_must_be_of_sensible_size(sessions):
    async with sessions() as session:
        auditor = await _staff(session, "auditor")
        for limit, offset in ((0, 0), (1001, 0), (10, -1)):
            with pytest.raises(InvalidInput):
                await list_events(session, staff=auditor, limit=limit, offset=offset)


async def test_the_export_parses_as_csv_defuses_formulas_and_is_itself_audited(sessions):
    async with sessions() as session:
        _, senior = await _seed(session)
        auditor = await _staff(session, "auditor")
        text = await export_csv(session, staff=auditor, filters=AuditFilter(object_type="tip"))
        everything = await export_csv(session, staff=auditor)
        exports = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export"))
        ).all()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert [r["object_ref"] for r in rows] == ["BBBB-2222", "AAAA-1111"]
    promising = rows[0]
    assert promising["actor_id"] == str(senior.id)
    assert promising["reason"] == "matches the case photo, 两个人"
    assert json.loads(promising["detail"]) == {"via": "web"}
    hostile = next(
        r for r in csv.DictReader(io.StringIO(everything)) if r["action"] == "signin.failed"
    )
    assert hostile["object_ref"].startswith("'=")
    assert [(e.actor_id, e.detail["filters"]) for e in exports] == [
        (auditor.id, {"object_type": "tip"}),
        (auditor.id, {}),
    ]
    assert exports[0].object_ref == "2"


# --- append-only ---------------------------------------------------------------------------------

_RAW_SQL = re.compile(r"(update|delete\s+from)\s+audit_events", re.IGNORECASE)
_MUTATORS = {"update", "delete"}


def _mutations(tree: ast.AST) -> list[int]:
    """Lines calling update(AuditEvent)/delete(AuditEvent), or session.delete(<audit event>)."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = ast.unparse(node.args[0])
        if name in _MUTATORS and ("AuditEvent" in first or "audit" in first.lower()):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_code_in_moderation_core_or_storage_updates_or_deletes_audit_events():
    offenders = []
    sources = [
        p for folder in ("moderation", "core", "storage") for p in (ROOT / folder).rglob("*.py")
    ]
    assert len(sources) > 20  # the walk found the code
    for path in sources:
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        offenders += [f"{where}:{line}" for line in _mutations(ast.parse(source))]
        offenders += [f"{where}: raw SQL" for _ in _RAW_SQL.finditer(source)]
    assert offenders == []


def test_the_append_only_check_catches_the_ways_one_could_rewrite_the_trail():
    sample = ast.parse(
        "await session.execute(update(AuditEvent).values(reason=None))\n"
        "await session.execute(sa.delete(AuditEvent))\n"
        "await session.delete(audit_event)\n"
    )
    assert _mutations(sample) == [1, 2, 3]
    assert _RAW_SQL.search("DELETE FROM audit_events WHERE id = 1")
