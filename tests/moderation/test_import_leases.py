"""A running import's lease: a live process's import is never taken over; one whose lease ran out,
or whose holder is a dead process of this host, is; the old holder then stops without writing.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.cases.people_import import read_batch
from moderation.cases.import_leases import (
    LeaseLost,
    interrupt_import,
    list_left_behind,
    owner_gone,
    process_token,
    read_kept,
    renew_lease,
    take_over,
    this_host,
)
from moderation.cases.people_imports import Runner, run_import, start_import
from storage.models import AuditEvent, Case, PeopleImport
from storage.photostore import PhotoStore

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
FILE = b"source_id,full_name\nS-1,Mimi\n,No id\nS-3,Wang Fang\nS-4,Li Na\n"
ELSEWHERE = "web-2.example:4242:abcd"  # a process on another host
LAPSED = timedelta(seconds=-1)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: no process has this id now
    return child.pid


async def _start(session, *, owner: str, lease: timedelta, kept=(None, None)) -> PeopleImport:
    batch = read_batch(FILE, name="shelter.csv", photos={}, now=NOW)
    return await start_import(
        session,
        staff=None,
        source_name="Chengdu shelter",
        file_name="shelter.csv",
        batch=batch,
        owner=owner,
        kept=kept,
        lease=lease,
        now=NOW,
    )


async def test_a_live_processs_import_is_not_taken_over_and_a_lapsed_one_is(sessions, tmp_path):
    me = process_token()
    async with sessions() as session:
        live = await _start(session, owner=ELSEWHERE, lease=timedelta(seconds=60))
        assert await list_left_behind(session, owner=me) == []
        assert await take_over(session, job_id=live.id, owner=me) is None
        lapsed = await _start(session, owner=ELSEWHERE, lease=LAPSED)
        assert await list_left_behind(session, owner=me) == [(lapsed.id, ELSEWHERE)]
        taken = await take_over(session, job_id=lapsed.id, owner=me)
        assert taken is not None and taken.lease_owner == me
        assert await take_over(session, job_id=lapsed.id, owner="third:1:x") is None  # mine now
    async with sessions() as session:  # the old holder wakes up: it may not write a row
        batch = read_batch(FILE, name="shelter.csv", photos={}, now=NOW)
        with pytest.raises(LeaseLost):
            await run_import(
                session,
                job_id=lapsed.id,
                batch=batch,
                quarantine=PhotoStore(tmp_path / "quarantine"),
                runner=Runner(owner=ELSEWHERE),
                match=False,
            )
        await session.rollback()
        assert await session.scalar(select(func.count(Case.id))) == 0
        with pytest.raises(LeaseLost):
            await renew_lease(session, job_id=live.id, owner=me)


async def test_a_dead_process_of_this_host_is_taken_over_at_once(sessions):
    me, host = process_token(), this_host()
    dead = f"{host}:{_dead_pid()}:dead"
    assert owner_gone(dead) and owner_gone(f"{host}:{os.getpid()}:before-a-restart")
    assert not owner_gone(f"{host}:{os.getppid()}:alive") and not owner_gone(ELSEWHERE)
    other_namespace = f"{socket.gethostname()[:60]}/1:{_dead_pid()}:dead"  # another container
    assert not owner_gone(other_namespace)
    async with sessions() as session:
        job = await _start(session, owner=dead, lease=timedelta(seconds=60))
        [(job_id, holder)] = await list_left_behind(session, owner=me)
        assert (job_id, holder) == (job.id, dead)
        assert await take_over(session, job_id=job.id, owner=me) is None  # not without `gone`
        assert await take_over(session, job_id=job.id, owner=me, gone=holder) is not None


async def test_resuming_reads_the_kept_file_and_writes_only_the_rows_left(sessions, tmp_path):
    store = PhotoStore(tmp_path / "imports")
    me = process_token()
    async with sessions() as session:
        job = await _start(session, owner=ELSEWHERE, lease=LAPSED, kept=(store.put(FILE), None))
        batch = read_batch(FILE, name="shelter.csv", photos={}, now=NOW)
        taken = await take_over(session, job_id=job.id, owner=me)
        assert taken is not None
        taken.processed = 2  # the dead process had committed the refused row and S-1
        await session.commit()
        kept = read_kept(taken, store)
        assert kept is not None and kept.done == 1
        assert [row.source_id for row in kept.batch.rows[kept.done :]] == ["S-3", "S-4"]
        done = await run_import(
            session,
            job_id=job.id,
            batch=batch,
            quarantine=PhotoStore(tmp_path / "quarantine"),
            runner=Runner(owner=me, start=kept.done),
            match=False,
        )
        assert (done.status, done.processed, done.added, done.lease_owner) == ("done", 4, 2, None)
        names = (await session.scalars(select(Case.full_name).order_by(Case.id))).all()
        assert names == ["Wang Fang", "Li Na"]  # S-1 was the dead process's to write


async def test_an_import_whose_file_was_not_kept_is_marked_interrupted(sessions, tmp_path):
    me = process_token()
    async with sessions() as session:
        job = await _start(session, owner=ELSEWHERE, lease=LAPSED)
        taken = await take_over(session, job_id=job.id, owner=me)
        assert taken is not None and read_kept(taken, PhotoStore(tmp_path)) is None
        await interrupt_import(session, job=taken, owner=me)
    async with sessions() as session:
        row = await session.get(PeopleImport, job.id)
        assert (row.status, row.processed, row.lease_owner) == ("interrupted", 1, None)
        assert await list_left_behind(session, owner=me) == []
        [event] = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "people.import_interrupted")
            )
        ).all()
        assert event.detail == {"processed": 1, "total": 4, "added": 0}
