"""Found-person imports from the dashboard: upload a CSV or JSON file (and a ZIP of photos), then
watch its progress line. The same use cases as `tipline people import` (moderation/people_imports).

The rows are imported by a task of this web process, committed 100 at a time, so the page shows
progress while it runs. A task stopped by the process ending leaves the import "running"; the rows
so far are kept, and importing the file again updates them (dedup by source id).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response

from core.errors import InvalidInput
from core.people_import import Batch, read_batch, read_photos
from moderation.people_imports import (
    ACTION,
    fail_import,
    get_import,
    list_imports,
    run_import,
    start_import,
)
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


async def _run(context: WebContext, job_id: int, batch: Batch) -> None:
    """Import the rows; an error ends the import as failed, with the reason's kind."""
    async with context.sessions() as session:
        try:
            quarantine = context.photo_stores().quarantine
            await run_import(session, job_id=job_id, batch=batch, quarantine=quarantine)
        except Exception as exc:  # the import records why it stopped (the log has the rest)
            log.exception("import %s stopped", job_id)
            await fail_import(session, job_id=job_id, reason=type(exc).__name__)


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
        batch = read_batch(data, name=name, photos=photos, now=utcnow())
        job = await start_import(
            staff.db,
            staff=staff.user,
            source_name=str(form.get("source") or ""),
            file_name=name,
            batch=batch,
        )
    except InvalidInput as exc:
        text = f"Not imported: {exc}. Nothing was imported."
        return message(request, staff, title="Not imported", text=text, status=400)
    task = asyncio.create_task(_run(web_context(request), job.id, batch))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


@router.get("/imports/{job_id:int}", response_class=HTMLResponse)
async def progress(
    job_id: int, request: Request, staff: Annotated[Staff, require(ACTION)]
) -> Response:
    """One import's progress line (the page refreshes itself while it runs) and refused rows."""
    job = await get_import(staff.db, staff=staff.user, job_id=job_id)
    return page(request, "dash/import.html", staff, job=job)
