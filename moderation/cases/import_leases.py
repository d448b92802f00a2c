"""Imports that outlive their process: a lease on each running import, and taking over those left.

The process running an import holds its lease (`lease_owner`, `lease_until`) and renews it with
every commit (run_import commits at least every third of the lease). A process that is killed
stops renewing; once its lease has run out (or at once, when the holder was a process of this
host that no longer runs), any web process may take the import over with one compare-and-set
UPDATE, so two live processes never run one import and a live one is never robbed. The taker
resumes from the rows already committed when the uploaded file was kept, and otherwise marks the
import "interrupted" with the count done (importing the file again updates those rows instead of
adding them twice: source ids are unique per source).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.cases.people_import import Batch, read_batch, read_photos
from core.errors import InvalidInput
from storage.models import PeopleImport
from storage.photostore import MediaStore, PhotoCorruptError, PhotoNotFoundError
from storage.types import utcnow

LEASE: Final = timedelta(seconds=60)
RUNNING: Final = "running"
INTERRUPTED: Final = "interrupted"


class LeaseLost(RuntimeError):
    """Another process took this import over (this one stalled past its lease): stop at once."""


def this_host() -> str:
    """This host and PID namespace ("" when unknown): a process id names one process only within
    both (containers sharing a host name each have their own process ids)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{socket.gethostname()[:60]}/{namespace}"


def process_token() -> str:
    """Who holds a lease: host, process id and a random part (a pid is reused after a restart)."""
    return f"{this_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_gone(owner: str | None) -> bool:
    """Whether a lease holder is certainly dead: a process of this host and PID namespace that no
    longer runs, or this very process id under another token (the id was reused). A holder
    elsewhere, or anywhere when the namespace is unknown, is judged by its lease alone."""
    host, _, rest = (owner or "").partition(":")
    pid_text, _, _ = rest.partition(":")
    if not host or host != this_host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # the caller checked the token is not its own
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _free(now: datetime, gone: str | None = None) -> ColumnElement[bool]:
    free = or_(PeopleImport.lease_until.is_(None), PeopleImport.lease_until < now)
    return free if gone is None else or_(free, PeopleImport.lease_owner == gone)


async def renew_lease(
    session: AsyncSession, *, job_id: int, owner: str, lease: timedelta = LEASE
) -> None:
    """Extend this process's lease, in the caller's transaction; LeaseLost if it is not ours."""
    stmt = (
        update(PeopleImport)
        .where(PeopleImport.id == job_id, PeopleImport.lease_owner == owner)
        .values(lease_until=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"import {job_id} was taken over by another process")


async def list_left_behind(
    session: AsyncSession, *, owner: str, now: datetime | None = None
) -> list[tuple[int, str | None]]:
    """(id, lease holder) of running imports whose process is gone, oldest first: their lease ran
    out, or their holder is a dead process of this host (owner_gone)."""
    stmt = select(PeopleImport.id, PeopleImport.lease_owner, PeopleImport.lease_until).where(
        PeopleImport.status == RUNNING
    )
    now = now or utcnow()
    found = []
    for job_id, holder, until in (await session.execute(stmt.order_by(PeopleImport.id))).all():
        expired = until is None or until < now
        if expired or (holder != owner and owner_gone(holder)):
            found.append((int(job_id), holder))
    return found


async def take_over(
    session: AsyncSession,
    *,
    job_id: int,
    owner: str,
    gone: str | None = None,
    lease: timedelta = LEASE,
) -> PeopleImport | None:
    """Take a left-behind import's lease: if it ran out, or is still held by `gone` (a holder
    found dead). None when it is not running or someone else holds it now; commits."""
    now = utcnow()
    stmt = (
        update(PeopleImport)
        .where(PeopleImport.id == job_id, PeopleImport.status == RUNNING, _free(now, gone))
        .values(lease_owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    taken = (await session.execute(stmt)).rowcount == 1  # type: ignore[attr-defined]
    await session.commit()
    if not taken:
        return None
    return await session.get(PeopleImport, job_id, populate_existing=True)


@dataclass(frozen=True, slots=True)
class Resumable:
    """A taken-over import's rows read again from the kept file, and how many are done."""

    batch: Batch
    done: int


def read_kept(job: PeopleImport, store: MediaStore) -> Resumable | None:
    """The kept file read as it was at the upload (same bytes, same date); None when it was not
    kept, is gone, or no longer reads as the same rows."""
    if job.file_sha256 is None:
        return None
    try:
        data = store.get(job.file_sha256)
        photos = read_photos(store.get(job.photos_sha256)) if job.photos_sha256 else {}
        batch = read_batch(data, name=job.file_name, photos=photos, now=job.created_at)
    except (PhotoNotFoundError, PhotoCorruptError, InvalidInput):
        return None
    refused = len(batch.problems)
    if len(batch.rows) + refused != job.total or not refused <= job.processed <= job.total:
        return None
    return Resumable(batch=batch, done=job.processed - refused)


def forget_kept(job: PeopleImport, store: MediaStore, *, still_needed: set[str]) -> None:
    """Delete a finished import's kept file and ZIP unless another running import uses them."""
    for sha in (job.file_sha256, job.photos_sha256):
        if sha is not None and sha not in still_needed:
            store.delete(sha)


async def kept_by_running(session: AsyncSession) -> set[str]:
    """The kept files running imports still need."""
    stmt = select(PeopleImport.file_sha256, PeopleImport.photos_sha256).where(
        PeopleImport.status == RUNNING
    )
    return {sha for row in (await session.execute(stmt)).all() for sha in row if sha}


async def interrupt_import(session: AsyncSession, *, job: PeopleImport, owner: str) -> None:
    """Mark a taken-over import that cannot be resumed "interrupted", with its counts; commits."""
    if job.lease_owner != owner:
        return
    job.status = INTERRUPTED
    job.finished_at = utcnow()
    job.lease_owner = job.lease_until = None
    await record(
        session,
        actor_id=None,
        actor_role="system",
        action="people.import_interrupted",
        object_type="people_import",
        object_ref=str(job.id),
        detail={"processed": job.processed, "total": job.total, "added": job.added},
    )
    await session.commit()
