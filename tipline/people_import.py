"""`tipline people import`: read the file and the ZIP, then import with a progress bar (rich)."""

from __future__ import annotations

from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases.people_import import Batch, read_batch, read_photos
from moderation.cases.import_leases import process_token
from moderation.cases.people_imports import Runner, run_import, start_import
from settings import Settings
from storage.models import PeopleImport
from storage.photostore import MediaStore
from storage.types import utcnow
from tipline.infra import open_media


async def import_file(
    session: AsyncSession,
    *,
    settings: Settings,
    source: str,
    name: str,
    data: bytes,
    photos: bytes | None,
) -> PeopleImport:
    """Import one file as the operator; InvalidInput when the file cannot be read at all."""
    pictures = read_photos(photos) if photos is not None else {}
    batch = read_batch(data, name=name, photos=pictures, now=utcnow())
    owner = process_token()
    job = await start_import(
        session, staff=None, source_name=source, file_name=name, batch=batch, owner=owner
    )
    media = open_media(settings)  # the S3 bucket when configured: workers elsewhere read it
    try:
        quarantine = media.stores.quarantine
        return await _run(
            session, job=job, batch=batch, quarantine=quarantine, owner=owner, name=name
        )
    finally:
        media.close()


async def _run(
    session: AsyncSession,
    *,
    job: PeopleImport,
    batch: Batch,
    quarantine: MediaStore,
    owner: str,
    name: str,
) -> PeopleImport:
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(f"importing {name}", total=len(batch.rows) or 1)
        if not batch.rows:
            bar.update(task, completed=1)
        done = 0

        def advance(processed: int, total: int) -> None:
            nonlocal done
            rows = processed - len(batch.problems)
            bar.update(task, advance=rows - done)
            done = rows

        job = await run_import(
            session,
            job_id=job.id,
            batch=batch,
            quarantine=quarantine,
            runner=Runner(owner=owner),
            progress=advance,
        )
    return job
