"""Importing found people in bulk (CLI `tipline people import`, dashboard /imports).

Each record keeps its provenance (source name, source id, date) and is one case of kind "found",
private ("submitted"): a re-import of the same source id updates it instead of adding another.
Photos go to the quarantine store and then through the sanitiser and the face engine like any
case photo (workers/case_photos.py, workers/faces.py). Every imported person is matched against
the registry (core/cases/matching.py) as it is written, and again when a face is found.
Commits every CHUNK rows (or every third of its lease, whichever comes first), so a long import
shows progress, a crash keeps what was done, and the lease (moderation/cases/import_leases.py) that
tells live imports from those left by a process that is gone stays fresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.cases.matching import refresh_matches
from core.cases.people_import import Batch, Row
from core.errors import InvalidInput, NotFound
from moderation.cases.import_leases import LEASE, renew_lease
from moderation.policy import can
from storage.models import Case, CasePhoto, PeopleImport, StaffUser
from storage.photostore import MediaStore
from storage.types import utcnow

ACTION: Final = "people.import"
CHUNK: Final = 100
MAX_PROBLEMS_KEPT: Final = 500
CHANNEL: Final = "import"
Progress = Callable[[int, int], None]


def allow(staff: StaffUser | None) -> None:
    """Staff need people.import; None is the operator at the command line."""
    if staff is not None and (not staff.active or not can(staff.role, ACTION)):
        raise PermissionError("your role may not import people")


async def start_import(
    session: AsyncSession,
    *,
    staff: StaffUser | None,
    source_name: str,
    file_name: str,
    batch: Batch,
    owner: str,
    kept: tuple[str | None, str | None] = (None, None),
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> PeopleImport:
    """Record a new import (running, its lease held by `owner`) with the rows refused while
    reading, and the SHA-256 of the file and ZIP kept for a resume, if they were; commits."""
    allow(staff)
    source_name = source_name.strip()
    if not source_name or len(source_name) > 100:
        raise InvalidInput("name the source (a shelter, a police list, a DNA partner), up to 100")
    job = PeopleImport(
        source_name=source_name,
        file_name=file_name[:300],
        total=len(batch.rows) + len(batch.problems),
        processed=len(batch.problems),
        problems=[p.as_dict() for p in batch.problems[:MAX_PROBLEMS_KEPT]],
        created_by=staff.id if staff else None,
        file_sha256=kept[0],
        photos_sha256=kept[1],
        lease_owner=owner,
        lease_until=utcnow() + lease,
        created_at=now or utcnow(),  # the date the rows were read with: a resume reads them so
    )
    session.add(job)
    await session.commit()
    return job


def _columns(row: Row) -> dict[str, object]:
    draft = row.draft
    names = [f.name for f in dataclasses.fields(draft) if f.name not in ("contact", "photos")]
    return {name: getattr(draft, name) for name in names}


async def _existing(session: AsyncSession, source: str, rows: list[Row]) -> dict[str, Case]:
    keys = [(source, row.source_id) for row in rows]
    stmt = select(Case).where(tuple_(Case.source_name, Case.source_id).in_(keys))
    return {str(case.source_id): case for case in (await session.scalars(stmt)).all()}


async def _photo(session: AsyncSession, case: Case, row: Row, store: MediaStore) -> None:
    if row.photo is None:
        return
    sha = await asyncio.to_thread(store.put, row.photo)
    ref = f"quarantine:{sha}"
    known = await session.scalar(
        select(CasePhoto.id).where(CasePhoto.case_id == case.id, CasePhoto.source_ref == ref)
    )
    if known is None:
        session.add(
            CasePhoto(
                case_id=case.id,
                status="quarantined",
                source_ref=ref,
                age_months=row.photo_age_months,
            )
        )


async def _write(
    session: AsyncSession, *, row: Row, case: Case | None, job: PeopleImport, now: datetime
) -> tuple[Case, bool]:
    """Add or update one person; (case, whether it changed)."""
    columns = _columns(row)
    if case is None:
        case = Case(
            **columns,
            status="submitted",
            status_changed_at=now,
            channel=CHANNEL,
            source_name=job.source_name,
            source_id=row.source_id,
            source_date=now.date(),
        )
        session.add(case)
        await session.flush()
        job.added += 1
        return case, True
    changed = [name for name, value in columns.items() if getattr(case, name) != value]
    for name in changed:
        setattr(case, name, columns[name])
    case.source_date = now.date()
    job.updated += 1
    return case, bool(changed)


@dataclasses.dataclass(frozen=True, slots=True)
class Runner:
    """Who runs an import (the lease holder), for how long a lease lasts, and the first row to
    write (rows before it were committed by the process that started the import)."""

    owner: str
    lease: timedelta = LEASE
    start: int = 0


async def run_import(
    session: AsyncSession,
    *,
    job_id: int,
    batch: Batch,
    quarantine: MediaStore,
    runner: Runner,
    progress: Progress | None = None,
    match: bool = True,
    now: datetime | None = None,
) -> PeopleImport:
    """Write the rows from runner.start (chunks committed with the lease renewed) and match each
    person; audited. LeaseLost (nothing of the chunk kept) if another process took it over."""
    job = await session.get(PeopleImport, job_id)
    if job is None:
        raise NotFound("no such import")
    now = now or utcnow()
    done = runner.start
    while done < len(batch.rows):
        chunk = batch.rows[done : done + CHUNK]
        written = await _write_chunk(
            session, job=job, rows=chunk, quarantine=quarantine, runner=runner, match=match, now=now
        )
        job.processed += written
        await renew_lease(session, job_id=job.id, owner=runner.owner, lease=runner.lease)
        await session.commit()
        done += written
        if progress is not None:
            progress(job.processed, job.total)
    return await finish_import(session, job=job, now=now)


async def _write_chunk(
    session: AsyncSession,
    *,
    job: PeopleImport,
    rows: list[Row],
    quarantine: MediaStore,
    runner: Runner,
    match: bool,
    now: datetime,
) -> int:
    """Write rows until the chunk ends or a third of the lease has passed; how many were written."""
    deadline = time.monotonic() + runner.lease.total_seconds() / 3
    existing = await _existing(session, job.source_name, rows)
    written = 0
    for row in rows:
        case, changed = await _write(
            session, row=row, case=existing.get(row.source_id), job=job, now=now
        )
        await _photo(session, case, row, quarantine)
        if match and changed:
            await refresh_matches(session, case=case, now=now)
        written += 1
        if time.monotonic() > deadline:
            break
    return written


async def finish_import(
    session: AsyncSession, *, job: PeopleImport, now: datetime | None = None
) -> PeopleImport:
    """Mark the import done and audit it (counts only, never a person's details); commits."""
    job.status = "done"
    job.finished_at = now or utcnow()
    job.lease_owner = job.lease_until = None
    actor = await session.get(StaffUser, job.created_by) if job.created_by else None
    await record(
        session,
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else "operator",
        action="people.import",
        object_type="people_import",
        object_ref=str(job.id),
        detail={
            "source": job.source_name,
            "added": job.added,
            "updated": job.updated,
            "refused": len(job.problems),
        },
    )
    await session.commit()
    return job


async def fail_import(session: AsyncSession, *, job_id: int, reason: str) -> None:
    """An import that stopped (the database went away): failed, with why; commits."""
    await session.rollback()
    job = await session.get(PeopleImport, job_id)
    if job is not None:
        job.status = "failed"
        job.finished_at = utcnow()
        job.lease_owner = job.lease_until = None
        job.problems = [*job.problems, {"line": 0, "reason": reason[:300]}]
        await session.commit()


async def list_imports(session: AsyncSession, *, staff: StaffUser) -> list[PeopleImport]:
    """The latest imports, newest first."""
    allow(staff)
    stmt = select(PeopleImport).order_by(PeopleImport.id.desc()).limit(50)
    return list((await session.scalars(stmt)).all())


async def get_import(session: AsyncSession, *, staff: StaffUser, job_id: int) -> PeopleImport:
    """One import, fresh from the database (its progress moves while the page is open)."""
    allow(staff)
    job = await session.get(PeopleImport, job_id, populate_existing=True)
    if job is None:
        raise NotFound("no such import")
    return job
