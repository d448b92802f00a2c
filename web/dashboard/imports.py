"""Found-person imports from the dashboard: upload a CSV or JSON file (and a ZIP of photos), then
watch its progress line. The same use cases as `tipline people import` (moderation/people_imports).

The rows are imported by a task of this web process, committed 100 at a time, so the page shows
progress while it runs. The file and ZIP are kept (media dir, `imports/`) until the import is
done: an import whose process ended (killed, restarted) is taken over by a web process once its
lease is free (moderation/cases/import_leases.py) and resumed after the rows already committed, or,
when the file is gone, marked "interrupted" with the count done.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import Response

from core.cases.people_import import Batch, read_batch, read_photos
from core.errors import InvalidInput
from moderation.cases.import_leases import (
    LeaseLost,
    forget_kept,
    interrupt_import,
    kept_by_running,
    list_left_behind,
    read_kept,
    take_over,
)
from moderation.cases.people_imports import (
    ACTION,
    Runner,
    fail_import,
    get_import,
    list_imports,
    run_import,
    start_import,
)
from storage.models import PeopleImport
from storage.photostore import MediaStore
from storage.types import utcnow
from web.dashboard.deps import Staff, require, web_context
from web.dashboard.views import message, page

if TYPE_CHECKING:
    from web.app import WebContext

log = logging.getLogger("tipline.web.imports")
router = APIRouter(include_in_schema=False)
MAX_FILE_BYTES: Final = 50 * 2**20
MAX_ZIP_BYTES: Final = 500 * 2**20
_RUNNING: set[asyncio.Task[None]] = set()  # a reference, so a running import is not collected


async def _read(part: object, limit: int, what: str) -> bytes | None:
    if not isinstance(part, UploadFile) or not part.filename:
        return None
    data = await part.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"the {what} is larger than {limit // 2**20} MB; split it")
    return data


def _kept(context: WebContext) -> MediaStore:
    """Where uploaded files wait until their import is done (the bucket with S3 media, so any
    web process can resume the import)."""
    return context.photo_stores().imports


async def _run(context: WebContext, job_id: int, batch: Batch, start: int) -> None:
    """Import the rows from `start`; an error ends the import as failed, with the reason's kind."""
    runner = Runner(owner=context.import_owner, lease=context.import_lease, start=start)
    async with context.sessions() as session:
        try:
            quarantine = context.photo_stores().quarantine
            job = await run_import(
                session, job_id=job_id, batch=batch, quarantine=quarantine, runner=runner
            )
        except LeaseLost:  # another process took it over: it goes on there
            log.warning("import %s was taken over by another process", job_id)
            return
        except Exception as exc:  # the import records why it stopped (the log has the rest)
            log.exception("import %s stopped", job_id)
            await fail_import(session, job_id=job_id, reason=type(exc).__name__)
            job = await session.get(PeopleImport, job_id)
            if job is None:
                return
        await _forget(context, session, job)


async def _forget(context: WebContext, session: AsyncSession, job: PeopleImport) -> None:
    """An import that ended (done, failed, interrupted) no longer needs its uploaded file."""
    needed = await kept_by_running(session)
    await asyncio.to_thread(forget_kept, job, _kept(context), still_needed=needed)


def _spawn(context: WebContext, job_id: int, batch: Batch, start: int = 0) -> None:
    task = asyncio.create_task(_run(context, job_id, batch, start))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def resume_left_imports(context: WebContext) -> int:
    """Take over the imports whose process is gone: resume each from the rows already committed,
    or mark it interrupted when its file was not kept; how many were resumed."""
    owner, resumed = context.import_owner, 0
    async with context.sessions() as session:
        for job_id, holder in await list_left_behind(session, owner=owner):
            job = await take_over(
                session, job_id=job_id, owner=owner, gone=holder, lease=context.import_lease
            )
            if job is None:
                continue
            kept = await asyncio.to_thread(read_kept, job, _kept(context))
            if kept is None:
                await interrupt_import(session, job=job, owner=owner)
                await _forget(context, session, job)
                continue
            log.warning("resuming import %s after row %s", job.id, kept.done)
            _spawn(context, job.id, kept.batch, kept.done)
            resumed += 1
    return resumed


async def watch_left_imports(context: WebContext) -> None:
    """At start-up and every half lease: resume imports left by a process that is gone."""
    while True:
        try:
            await resume_left_imports(context)
        except (SQLAlchemyError, OSError):  # the database is away: try again next round
            log.warning("could not look for imports left behind", exc_info=True)
        await asyncio.sleep(context.import_lease.total_seconds() / 2)


@router.get("/imports", response_class=HTMLResponse)
async def imports(request: Request, staff: Annotated[Staff, require(ACTION)]) -> Response:
    """The upload form and the latest imports."""
    jobs = await list_imports(staff.db, staff=staff.user)
    return page(request, "dash/imports.html", staff, jobs=jobs)


@router.post("/imports", response_class=HTMLResponse)
async def upload(request: Request, staff: Annotated[Staff, require(ACTION)]) -> Response:
    """Read the file whole (refused with the reason, nothing imported), then import in a task."""
    form = await request.form()
    try:
        data = await _read(form.get("file"), MAX_FILE_BYTES, "file")
        zipped = await _read(form.get("photos"), MAX_ZIP_BYTES, "ZIP of photos")
        if data is None:
            raise InvalidInput("choose the CSV or JSON file of found people")
        part = form.get("file")
        name = part.filename if isinstance(part, UploadFile) and part.filename else "upload"
        photos = read_photos(zipped) if zipped is not None else {}
        now = utcnow()
        batch = read_batch(data, name=name, photos=photos, now=now)
        context = web_context(request)
        job = await start_import(
            staff.db,
            staff=staff.user,
            source_name=str(form.get("source") or ""),
            file_name=name,
            batch=batch,
            owner=context.import_owner,
            kept=await _keep(context, data, zipped),
            lease=context.import_lease,
            now=now,
        )
    except InvalidInput as exc:
        text = f"Not imported: {exc}. Nothing was imported."
        return message(request, staff, title="Not imported", text=text, status=400)
    except OSError:  # the media disk or bucket is failing: the file could not be kept
        text = "The file store is not answering; nothing was imported. Try again in a minute."
        return message(request, staff, title="Not imported", text=text, status=503)
    _spawn(context, job.id, batch)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


async def _keep(context: WebContext, data: bytes, zipped: bytes | None) -> tuple[str, str | None]:
    """Keep the file and ZIP until the import is done, so it can be resumed after a restart."""
    store = _kept(context)
    photos = await asyncio.to_thread(store.put, zipped) if zipped is not None else None
    return await asyncio.to_thread(store.put, data), photos


@router.get("/imports/{job_id:int}", response_class=HTMLResponse)
async def progress(
    job_id: int, request: Request, staff: Annotated[Staff, require(ACTION)]
) -> Response:
    """One import's progress line (the page refreshes itself while it runs) and refused rows."""
    job = await get_import(staff.db, staff=staff.user, job_id=job_id)
    return page(request, "dash/import.html", staff, job=job)
