"""Importing found people: bad rows by line number while good rows import, files refused whole
for wrong columns, bad encodings and broken ZIPs, photos that are not images, dedup by source id
(a re-import updates), provenance kept, every person matched.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.cases.people_import import FileRefused, read_batch, read_photos
from moderation.cases.people_imports import Runner, run_import, start_import
from storage.models import AuditEvent, Case, CaseMatch, CasePhoto, PeopleImport
from storage.photostore import PhotoStore
from tests.web.dashboard_world import jpeg

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
OWNER = "test-host:1:test"
HEADER = "source_id,full_name,sex,age_years,found_on,found_place,photo,photo_age_years\n"


def _zip(**files: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name.replace("_", "."), data)
    return out.getvalue()


def test_bad_rows_are_reported_by_line_and_the_good_rows_kept():
    text = (
        HEADER
        + "S-1,Mimi,female,7,2026-10-01,Chengdu,a.jpg,7\n"
        + ",No id,female,7,,,,\n"
        + "S-3,Born later,female,7,2030-01-01,,,\n"
        + "S-4,Not a photo,female,7,,,notes.jpg,\n"
        + "S-5,Too many,female,7,,,,,extra\n"
        + "S-1,Twice,female,7,,,,\n"
    )
    photos = read_photos(_zip(a_jpg=jpeg((200, 10, 10)), notes_jpg=b"%PDF-1.7 not a photo"))
    batch = read_batch(text.encode(), name="shelter.csv", photos=photos, now=NOW)
    assert [row.source_id for row in batch.rows] == ["S-1"]
    assert batch.rows[0].photo_age_months == 84 and batch.rows[0].photo is not None
    reasons = {p.line: p.reason for p in batch.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "source_id is empty" in reasons[3]
    assert "future" in reasons[4]
    assert "notes.jpg' is not an image" in reasons[5]
    assert "more values than columns" in reasons[6]
    assert "also on line 2" in reasons[7]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"id,name\n1,Mimi\n", "x.csv", "missing column(s): source_id, full_name"),
        (HEADER.replace("sex", "gender").encode(), "x.csv", "unknown column(s): gender"),
        ("source_id,full_name\n1,Mimi\n".encode("utf-16"), "x.csv", "not UTF-8"),
        (b"\xff\xfe\x00garbage", "x.csv", "not UTF-8"),
        (b'{"source_id": 1}', "x.json", "list of objects"),
        (b"[{", "x.json", "not valid"),
    ],
)
def test_an_unreadable_file_is_refused_whole_with_a_clear_message(data, name, message):
    with pytest.raises(FileRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_batch(data, name=name, photos={}, now=NOW)


def test_a_photos_file_that_is_not_a_zip_is_refused():
    with pytest.raises(FileRefused, match="not a ZIP"):
        read_photos(b"PK but not really")


async def _import(session, tmp_path, data: bytes, name: str, photos: dict[str, bytes]):
    batch = read_batch(data, name=name, photos=photos, now=NOW)
    job = await start_import(
        session,
        staff=None,
        source_name="Chengdu shelter",
        file_name=name,
        batch=batch,
        owner=OWNER,
    )
    seen: list[tuple[int, int]] = []
    store = PhotoStore(tmp_path / "quarantine")
    job = await run_import(
        session,
        job_id=job.id,
        batch=batch,
        quarantine=store,
        runner=Runner(owner=OWNER),
        progress=lambda done, total: seen.append((done, total)),
        now=NOW,
    )
    return job, seen


async def test_an_import_keeps_provenance_matches_everyone_and_a_reimport_updates(
    session, tmp_path
):
    missing = Case(
        full_name="Lily Chen",
        nicknames="Mimi",
        sex="female",
        age_years=6,
        last_seen_at=datetime(2025, 11, 1, tzinfo=UTC),
        status="active",
    )
    session.add(missing)
    await session.commit()
    people = [
        {"source_id": "S-1", "full_name": "Mimi", "sex": "female", "age_years": "7",
         "found_on": "2026-10-01", "photo": "a.jpg", "photo_age_years": "7"},
        {"source_id": "S-2", "full_name": "Wang Wei", "sex": "male", "age_years": "30"},
        {"source_id": "", "full_name": "No id"},
    ]  # fmt: skip
    data = json.dumps(people).encode()
    photos = {"a.jpg": jpeg((200, 10, 10))}
    job, seen = await _import(session, tmp_path, data, "police.json", photos)
    assert (job.status, job.added, job.updated, job.total, job.processed) == ("done", 2, 0, 3, 3)
    assert job.problems == [{"line": 3, "reason": "source_id is empty"}]
    assert seen == [(3, 3)]
    mimi = await session.scalar(select(Case).where(Case.source_id == "S-1"))
    assert (mimi.kind, mimi.status, mimi.source_name, mimi.channel) == (
        "found",
        "submitted",
        "Chengdu shelter",
        "import",
    )
    (photo,) = (await session.scalars(select(CasePhoto).where(CasePhoto.case_id == mimi.id))).all()
    assert (photo.status, photo.age_months) == ("quarantined", 84)
    (match,) = (await session.scalars(select(CaseMatch))).all()
    assert {match.case_id, match.other_case_id} == {missing.id, mimi.id}
    assert "nickname" in [r["code"] for r in match.reasons]
    people[1]["full_name"] = "Wang Wei (updated)"
    again, _ = await _import(session, tmp_path, json.dumps(people).encode(), "police.json", photos)
    assert (again.added, again.updated) == (0, 2)
    assert await session.scalar(select(func.count(Case.id)).where(Case.kind == "found")) == 2
    assert await session.scalar(select(func.count(CasePhoto.id))) == 1
    wang = await session.scalar(select(Case).where(Case.source_id == "S-2"))
    assert wang.full_name == "Wang Wei (updated)"
    audits = (await session.scalars(select(AuditEvent.action))).all()
    assert audits == ["people.import", "people.import"]
    assert await session.scalar(select(func.count(PeopleImport.id))) == 2
