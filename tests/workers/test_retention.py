"""Retention: quarantined uploads, old originals and closed cases' tips go, except what police
hold; each purge is audited as counts."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEvent, Forward, Tip
from storage.photostore import PhotoStore, open_photo_stores
from storage.types import utcnow
from tests.web import dashboard_world as world
from workers.retention import RetentionWorker


async def test_old_originals_are_purged_and_recent_ones_kept(sessions, tmp_media):
    stores = open_photo_stores(tmp_media)
    originals = stores.originals
    quarantine = PhotoStore(tmp_media / "quarantine")
    old = originals.put(b"old original")
    recent = originals.put(b"recent original")
    stale = quarantine.put(b"abandoned upload")
    forty_days_ago = time.time() - 40 * 86400
    for path in (originals.path(old), quarantine.path(stale)):
        os.utime(path, (forty_days_ago, forty_days_ago))
    worker = RetentionWorker(
        sessions=sessions, stores=stores, quarantine=quarantine, originals_days=30
    )
    assert await worker.run_once() == 2
    assert not originals.exists(old) and originals.exists(recent)
    assert not quarantine.exists(stale)
    async with sessions() as session:
        [event] = (await session.scalars(select(AuditEvent))).all()
    assert event.action == "retention.purge" and event.detail["originals"] == 1
    assert await worker.run_once() == 0


def _age(store: PhotoStore, sha: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(store.path(sha), (then, then))


async def test_quarantined_uploads_go_after_24_hours_by_default(sessions, tmp_media):
    stores = open_photo_stores(tmp_media)
    quarantine = PhotoStore(tmp_media / "quarantine")
    day_old, fresh = quarantine.put(b"never became a photo"), quarantine.put(b"just arrived")
    _age(quarantine, day_old, 25 * 3600)
    _age(quarantine, fresh, 23 * 3600)
    worker = RetentionWorker(sessions=sessions, stores=stores, quarantine=quarantine)
    assert await worker.run_once() == 1
    assert not quarantine.exists(day_old) and quarantine.exists(fresh)


async def test_closed_cases_tips_go_after_their_time_except_what_police_hold(sessions, tmp_media):
    stores = open_photo_stores(tmp_media)
    long_ago = utcnow() - timedelta(days=731)
    async with sessions() as session:
        staff = await world.staff(session, "senior_moderator")
        ended = await world.case(session, status="found", status_changed_at=long_ago)
        recent = await world.case(session, status="closed", status_changed_at=utcnow())
        expired = await world.tip(session, case_id=ended.id)
        held = await world.tip(session, case_id=ended.id)
        young = await world.tip(session, case_id=recent.id)
        gone_photo = await world.photo(session, stores, expired, 10)
        held_photo = await world.photo(session, stores, held, 20)
        session.add(Forward(tip_id=held.id, audience="police", created_by=staff.id))
        await session.commit()
    for sha in (gone_photo.row.original_sha256, held_photo.row.original_sha256):
        _age(stores.originals, sha, 40 * 86400)
    worker = RetentionWorker(
        sessions=sessions,
        stores=stores,
        quarantine=PhotoStore(tmp_media / "quarantine"),
        originals_days=30,
    )
    await worker.run_once()
    async with sessions() as session:
        left = set((await session.scalars(select(Tip.id))).all())
        [event] = (await session.scalars(select(AuditEvent))).all()
    assert left == {held.id, young.id}
    assert not stores.display.exists(gone_photo.row.display_sha256)
    assert not stores.originals.exists(gone_photo.row.original_sha256)
    assert stores.originals.exists(held_photo.row.original_sha256)  # legal hold, even when old
    assert event.action == "retention.purge"
    assert event.detail["tips"] == 1 and event.detail["tips_on_legal_hold"] == 1
    # The old original went by age (30 days), its display copy and thumbnail with the tip.
    assert event.detail["originals"] == 1
    assert event.detail["photos"] == 1 and event.detail["photo_files"] == 2
    assert "text" not in str(event.detail) and expired.ref not in str(event.detail)
