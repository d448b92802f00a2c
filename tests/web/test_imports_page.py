"""Found-person imports on the dashboard: upload, a progress line, bad rows by line number while
the good rows import; a file that cannot be read is refused whole with the reason.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from core.cases.people_import import read_batch
from moderation.cases.people_imports import start_import
from storage.models import Case, PeopleImport
from storage.s3store import S3Location
from storage.types import utcnow
from tests.s3server import gone_bucket, s3_stores
from tests.web import dashboard_world as world
from web.dashboard.imports import resume_left_imports

GOOD = (
    "source_id,full_name,sex,age_years,found_on\n"
    "S-1,Mimi,female,7,2026-10-01\n"
    ",No id,female,7,\n"
    "S-3,Wang Fang,female,30,2026-10-02\n"
)


async def _upload(client, signed, data: bytes, name: str = "shelter.csv"):
    return await client.post(
        "/imports",
        data={"source": "Chengdu shelter", "csrf": signed.csrf},
        files=[("file", (name, data, "text/csv"))],
    )


async def _finished(client, url: str) -> str:
    async with asyncio.timeout(30):
        while "running" in (page := await client.get(url)).text:  # noqa: ASYNC110 - the page is the door
            await asyncio.sleep(0.1)
    return page.text


async def test_an_upload_imports_the_good_rows_and_the_page_shows_its_progress_line(
    client, sessions
):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
    world.use(client, senior)
    form = await client.get("/imports")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    started = await _upload(client, senior, GOOD.encode())
    assert started.status_code == 303
    text = await _finished(client, started.headers["location"])
    assert "done: 3 of 3 rows · 2 added · 0 updated · 1 refused" in text
    assert "line 3: source_id is empty" in text
    async with sessions() as session:
        names = (await session.scalars(select(Case.full_name).order_by(Case.id))).all()
    assert names == ["Mimi", "Wang Fang"]
    assert "Chengdu shelter" in (await client.get("/imports")).text


async def test_a_file_with_wrong_columns_is_refused_and_nothing_is_imported(client, sessions):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
    world.use(client, senior)
    refused = await _upload(client, senior, b"id,name\n1,Mimi\n")
    assert refused.status_code == 400 and "missing column(s): source_id, full_name" in refused.text
    latin1 = await _upload(client, senior, "source_id,full_name\nS-1,José\n".encode("latin-1"))
    assert latin1.status_code == 400 and "not UTF-8" in latin1.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(PeopleImport.id))) == 0
        assert await session.scalar(select(func.count(Case.id))) == 0


async def test_an_import_left_by_a_gone_process_without_its_file_is_interrupted_and_runs_again(
    client, context, sessions
):
    async with sessions() as session:
        senior = await world.sign_in_as(session, "senior_moderator")
    world.use(client, senior)
    first = await _upload(client, senior, GOOD.encode())
    await _finished(client, first.headers["location"])  # S-1 and S-3 imported
    more = GOOD + "S-4,Li Na,female,9,2026-10-03\n"
    async with sessions() as session:  # `tipline people import` of a bigger file, then killed
        batch = read_batch(more.encode(), name="more.csv", photos={}, now=utcnow())
        gone = await start_import(
            session,
            staff=None,
            source_name="Chengdu shelter",
            file_name="more.csv",
            batch=batch,
            owner="web-9.example:77:gone",
            lease=timedelta(seconds=-1),
        )
    assert await resume_left_imports(context) == 0  # no file kept: it cannot be resumed
    page = (await client.get(f"/imports/{gone.id}")).text
    assert "interrupted: 1 of 4 rows" in page and 'id="run-again"' in page
    assert "could not be resumed" in page and "never added twice" in page
    assert 'value="Chengdu shelter"' in page and 'http-equiv="refresh"' not in page
    again = await client.post(
        "/imports",
        data={"source": "Chengdu shelter", "csrf": world.hidden(page, "csrf")},
        files=[("file", ("more.csv", more.encode(), "text/csv"))],
    )
    done = await _finished(client, again.headers["location"])
    assert "done: 4 of 4 rows · 1 added · 2 updated · 1 refused" in done
    async with sessions() as session:
        names = (await session.scalars(select(Case.full_name).order_by(Case.id))).all()
    assert names == ["Mimi", "Wang Fang", "Li Na"]
    kept = context.media_dir / "imports"
    async with asyncio.timeout(10):  # kept files go once the import is done
        while any(path.is_file() for path in kept.rglob("*")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _upload_on(client, sessions, context, location: S3Location) -> str:
    """A senior moderator uploads GOOD with the media on `location`; the answer's status and,
    once the import is done, its page."""
    with s3_stores(location) as stores:
        context.photos = stores
        async with sessions() as session:
            senior = await world.sign_in_as(session, "senior_moderator")
        world.use(client, senior)
        answer = await _upload(client, senior, GOOD.encode())
        if answer.status_code != 303:
            return f"{answer.status_code} {answer.text}"
        done = await _finished(client, answer.headers["location"])
        async with asyncio.timeout(10):  # deleted once the import is done, just after its page
            while stores.imports.list_hashes():  # noqa: ASYNC110 - the bucket is the door
                await asyncio.sleep(0.05)
        return f"303 {done}"


async def test_with_s3_media_an_import_runs_to_the_end_and_leaves_no_file_on_disk(
    client, sessions, context, s3
):
    bucket = replace(gone_bucket(s3), bucket=s3.new_bucket())
    assert "done: 3 of 3 rows" in await _upload_on(client, sessions, context, bucket)
    assert [p for p in context.media_dir.rglob("*") if p.is_file()] == []


async def test_a_file_store_that_stops_answering_imports_nothing_and_says_so(
    client, sessions, context, s3
):
    answer = await _upload_on(client, sessions, context, gone_bucket(s3))
    assert answer.startswith("503") and "nothing was imported" in answer
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PeopleImport)) == 0
