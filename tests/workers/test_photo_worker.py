"""The photo worker turns quarantined files into clean copies plus evidence, or a clear refusal."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from bot.files import telegram_fetcher
from storage.models import OutboxMessage, Tip, TipPhoto, Tipster
from storage.photostore import PhotoStore, open_photo_stores
from tests.core.photos import photo_corpus
from tests.fakes.telegram.server import FakeTelegram
from workers.photos import PhotoWorker


async def _tip_with(session, files: list[tuple[str, str]]) -> int:
    tip = Tip(channel="telegram", text="seen")
    session.add(tip)
    await session.flush()
    session.add_all(TipPhoto(tip_id=tip.id, kind=kind, source_ref=ref) for kind, ref in files)
    await session.commit()
    return tip.id


async def test_quarantined_files_become_clean_copies_and_evidence(sessions, tmp_media):
    quarantine = PhotoStore(tmp_media / "quarantine")
    stores = open_photo_stores(tmp_media)
    hostile = quarantine.put(photo_corpus.pdf_bytes())
    exif_photo = photo_corpus.jpeg_with_everything()
    async with FakeTelegram(rate_limits=None) as fake:
        update = fake.photo_message(42, exif_photo)
        file_id = update["message"]["photo"][-1]["file_id"]
        web_photo = quarantine.put(photo_corpus.plain_jpeg())
        async with sessions() as session:
            tip_id = await _tip_with(
                session,
                [
                    ("photo", f"telegram:{file_id}"),
                    ("photo", f"quarantine:{web_photo}"),
                    ("photo", f"quarantine:{hostile}"),
                    ("photo", "telegram:no-such-file"),
                ],
            )
        bot = fake.bot()
        worker = PhotoWorker(
            sessions=sessions, stores=stores, quarantine=quarantine, fetch=telegram_fetcher(bot)
        )
        assert await worker.run_once() == 4
        await bot.session.close()
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(TipPhoto).where(TipPhoto.tip_id == tip_id).order_by(TipPhoto.id)
            )
        ).all()
    telegram_row, web_row, pdf_row, missing_row = rows
    assert [r.status for r in rows] == ["processed", "processed", "rejected", "rejected"]
    assert pdf_row.reject_reason == "unsupported_type"
    assert missing_row.reject_reason.startswith("telegram:")
    assert telegram_row.exif_lat is not None and telegram_row.camera
    display = stores.display.get(telegram_row.display_sha256)
    assert b"Exif" not in display and display.startswith(b"\xff\xd8")
    assert stores.originals.get(telegram_row.original_sha256) == exif_photo
    assert not quarantine.exists(web_photo)
    assert -(2**63) <= web_row.phash < 2**63
    assert await worker.run_once() == 0
    async with sessions() as session:
        notices = (await session.scalars(select(OutboxMessage))).all()
    # The tip has no tipster here, so nobody is told; see the test below for a tipster.
    assert notices == []


async def test_a_tipster_is_told_clearly_when_a_file_is_refused(sessions, tmp_media):
    quarantine = PhotoStore(tmp_media / "quarantine")
    pdf = quarantine.put(photo_corpus.pdf_bytes())
    async with sessions() as session:
        person = Tipster(pseudonym="T-TEST", language="en")
        session.add(person)
        await session.flush()
        tip = Tip(channel="telegram", text="seen", tipster_id=person.id)
        session.add(tip)
        await session.flush()
        session.add(TipPhoto(tip_id=tip.id, kind="photo", source_ref=f"quarantine:{pdf}"))
        await session.commit()
    worker = PhotoWorker(
        sessions=sessions,
        stores=open_photo_stores(tmp_media),
        quarantine=quarantine,
        fetch=telegram_fetcher(None),
    )
    await worker.run_once()
    async with sessions() as session:
        [notice] = (await session.scalars(select(OutboxMessage))).all()
    assert notice.recipient == f"tipster:{person.id}"
    assert tip.ref in notice.payload["text"] and "not a photo we can read" in notice.payload["text"]


async def test_the_same_picture_sent_twice_is_processed_twice_and_a_lost_file_holds_up_nothing(
    sessions, tmp_media
):
    """Quarantine is content-addressed: two web reports with the same picture share one file,
    which goes when the first is processed; the second reads the kept original instead. A file
    found nowhere is refused with a reason, and the photos behind it are still processed."""
    quarantine = PhotoStore(tmp_media / "quarantine")
    stores = open_photo_stores(tmp_media)
    picture = photo_corpus.plain_jpeg()
    shared = f"quarantine:{quarantine.put(picture)}"
    gone = f"quarantine:{'0' * 64}"
    async with sessions() as session:
        first = await _tip_with(session, [("photo", shared)])
        lost = await _tip_with(session, [("photo", gone)])
        second = await _tip_with(session, [("photo", shared)])
    worker = PhotoWorker(
        sessions=sessions, stores=stores, quarantine=quarantine, fetch=telegram_fetcher(None)
    )
    assert await worker.run_once() == 3
    async with sessions() as session:
        rows = {
            row.tip_id: row for row in await session.scalars(select(TipPhoto).order_by(TipPhoto.id))
        }
    assert rows[first].status == rows[second].status == "processed"
    assert rows[first].original_sha256 == rows[second].original_sha256
    assert stores.originals.get(rows[second].original_sha256) == picture
    assert (rows[lost].status, rows[lost].reject_reason) == ("rejected", "missing")
    assert await worker.run_once() == 0


async def test_two_workers_never_take_the_same_file(sessions, tmp_media):
    """PostgreSQL: the claim is a row lock (FOR UPDATE SKIP LOCKED), so two photo workers
    running at once fetch each file once. (SQLite is one process and runs one worker.)"""
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED claims: PostgreSQL only (SQLite runs one worker)")
    quarantine = PhotoStore(tmp_media / "quarantine")
    refs = [
        f"quarantine:{quarantine.put(photo_corpus.plain_jpeg((400 + n, 200)))}" for n in range(12)
    ]
    async with sessions() as session:
        await _tip_with(session, [("photo", ref) for ref in refs])
    fetched: Counter[str] = Counter()
    stores = open_photo_stores(tmp_media)

    class Counting(PhotoWorker):
        async def _handle(self, session, row) -> None:
            fetched[row.source_ref] += 1
            await asyncio.sleep(0.05)  # a slow fetch: the other worker is looking meanwhile
            await super()._handle(session, row)

    workers = [
        Counting(sessions=sessions, stores=stores, quarantine=quarantine, fetch=None)
        for _ in range(2)
    ]
    done = await asyncio.gather(*(worker.run_once() for worker in workers))
    assert sum(done) == 12 and all(done)  # both worked, the files split between them
    assert set(fetched.values()) == {1} and len(fetched) == 12


async def test_a_failing_media_disk_parks_the_photo_with_a_reason_until_it_recovers(
    sessions, tmp_media, monkeypatch
):
    monkeypatch.setattr("workers.photos.STORAGE_PAUSE", 0.0)
    quarantine = PhotoStore(tmp_media / "quarantine")
    stores = open_photo_stores(tmp_media)
    data = photo_corpus.plain_jpeg()
    first = quarantine.put(data)
    second = quarantine.put(photo_corpus.plain_jpeg(quality=70))
    # A real failure of the filesystem: a file where the store needs a folder.
    blocker = stores.originals.path(first).parent.parent
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    async with sessions() as session:
        tip_id = await _tip_with(
            session, [("photo", f"quarantine:{first}"), ("photo", f"quarantine:{second}")]
        )
    worker = PhotoWorker(
        sessions=sessions, stores=stores, quarantine=quarantine, fetch=telegram_fetcher(None)
    )

    await worker.run_once()
    async with sessions() as session:
        rows = (await session.scalars(select(TipPhoto).where(TipPhoto.tip_id == tip_id))).all()
    assert [r.status for r in rows] == ["quarantined", "quarantined"]
    assert all(r.reject_reason and r.reject_reason.startswith("storage:") for r in rows)
    assert [r.attempts for r in rows] == [0, 0]  # the photo was not at fault
    assert quarantine.exists(first)

    blocker.unlink()
    await worker.run_once()
    async with sessions() as session:
        rows = (await session.scalars(select(TipPhoto).where(TipPhoto.tip_id == tip_id))).all()
    assert [r.status for r in rows] == ["processed", "processed"]
    assert [r.reject_reason for r in rows] == [None, None]
