"""The case photo worker: quarantined case photos become clean copies, or a clear refusal."""

from __future__ import annotations

from sqlalchemy import select

from bot.files import telegram_fetcher
from storage.models import Case, CasePhoto, OutboxMessage, Tipster
from storage.photostore import PhotoStore, open_photo_stores
from tests.core.photos import photo_corpus
from tests.fakes.telegram.server import FakeTelegram
from workers.case_photos import CasePhotoWorker
from workers.photos import FetchFailed


async def _case_with(sessions, refs: list[str], *, language: str = "en") -> tuple[int, int]:
    async with sessions() as session:
        person = Tipster(pseudonym=f"T-CASE-{language}", language=language)
        session.add(person)
        await session.flush()
        case = Case(full_name="Li Wei", channel="telegram", submitted_by_tipster_id=person.id)
        session.add(case)
        await session.flush()
        session.add_all(
            CasePhoto(case_id=case.id, source_ref=ref, position=i, status="quarantined")
            for i, ref in enumerate(refs)
        )
        await session.commit()
        return case.id, person.id


async def _rows(sessions, case_id: int) -> list[CasePhoto]:
    async with sessions() as session:
        stmt = select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(CasePhoto.id)
        return list((await session.scalars(stmt)).all())


def _worker(sessions, tmp_media, fetch) -> CasePhotoWorker:
    return CasePhotoWorker(
        sessions=sessions,
        stores=open_photo_stores(tmp_media),
        quarantine=PhotoStore(tmp_media / "quarantine"),
        fetch=fetch,
    )


async def test_a_real_jpeg_becomes_ready_with_no_metadata_in_its_display_copy(sessions, tmp_media):
    quarantine = PhotoStore(tmp_media / "quarantine")
    photo = photo_corpus.jpeg_with_everything()
    sha = quarantine.put(photo)
    case_id, _ = await _case_with(sessions, [f"quarantine:{sha}"])
    worker = _worker(sessions, tmp_media, telegram_fetcher(None))
    assert await worker.run_once() == 1
    [row] = await _rows(sessions, case_id)
    stores = open_photo_stores(tmp_media)
    display = stores.display.get(row.display_sha256)
    assert row.status == "ready" and row.reject_reason is None
    assert display.startswith(b"\xff\xd8") and b"Exif" not in display
    assert photo_corpus.COMMENT not in display and b"GPS" not in display
    assert stores.thumbnails.exists(row.thumb_sha256)
    assert stores.originals.get(row.original_sha256) == photo
    assert -(2**63) <= row.phash < 2**63
    assert not quarantine.exists(sha)
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case.poster_version == 1
        assert (await session.scalars(select(OutboxMessage))).all() == []
    assert await worker.run_once() == 0


async def test_a_pdf_named_like_a_jpeg_is_rejected_and_the_submitter_is_told(sessions, tmp_media):
    quarantine = PhotoStore(tmp_media / "quarantine")
    pdf = quarantine.put(photo_corpus.pdf_bytes())  # "child.jpg" from the web form
    case_id, person_id = await _case_with(sessions, [f"quarantine:{pdf}"], language="zh-Hans")
    await _worker(sessions, tmp_media, telegram_fetcher(None)).run_once()
    [row] = await _rows(sessions, case_id)
    assert row.status == "rejected" and row.reject_reason == "unsupported_type"
    assert row.display_sha256 is None
    async with sessions() as session:
        case = await session.get(Case, case_id)
        [notice] = (await session.scalars(select(OutboxMessage))).all()
    assert case.poster_version == 0
    assert notice.recipient == f"tipster:{person_id}"
    assert case.ref in notice.payload["text"] and "JPEG" in notice.payload["text"]
    assert "无法使用" in notice.payload["text"]


async def test_a_telegram_file_is_fetched_through_the_fake_bot_api(sessions, tmp_media):
    async with FakeTelegram(rate_limits=None) as fake:
        update = fake.photo_message(42, photo_corpus.plain_jpeg())
        file_id = update["message"]["photo"][-1]["file_id"]
        case_id, _ = await _case_with(sessions, [f"tg:{file_id}", "tg:no-such-file"])
        bot = fake.bot()
        try:
            assert await _worker(sessions, tmp_media, telegram_fetcher(bot)).run_once() == 2
        finally:
            await bot.session.close()
        assert [c.method for c in fake.calls()].count("getFile") == 2
    good, missing = await _rows(sessions, case_id)
    assert good.status == "ready" and good.display_sha256
    assert missing.status == "rejected" and missing.reject_reason.startswith("telegram:")


async def test_a_transient_failure_is_retried_then_rejected_after_the_last_attempt(
    sessions, tmp_media
):
    async def unreachable(source_ref: str) -> bytes:
        raise FetchFailed("telegram_unreachable", permanent=False)

    case_id, _ = await _case_with(sessions, ["tg:some-file"])
    worker = _worker(sessions, tmp_media, unreachable)
    worker.max_attempts = 3
    for attempt in (1, 2):
        await worker.run_once()
        [row] = await _rows(sessions, case_id)
        assert (row.status, row.attempts) == ("quarantined", attempt)
    await worker.run_once()
    [row] = await _rows(sessions, case_id)
    assert row.status == "rejected" and row.reject_reason == "telegram_unreachable"
    assert await worker.run_once() == 0
