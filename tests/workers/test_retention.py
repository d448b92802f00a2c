"""Originals older than the retention setting are deleted, and the purge is audited."""

from __future__ import annotations

import os
import time

from sqlalchemy import select

from storage.models import AuditEvent
from storage.photostore import PhotoStore
from workers.retention import RetentionWorker


async def test_old_originals_are_purged_and_recent_ones_kept(sessions, tmp_media):
    originals = PhotoStore(tmp_media / "originals")
    quarantine = PhotoStore(tmp_media / "quarantine")
    old = originals.put(b"old original")
    recent = originals.put(b"recent original")
    stale = quarantine.put(b"abandoned upload")
    forty_days_ago = time.time() - 40 * 86400
    for path in (originals.path(old), quarantine.path(stale)):
        os.utime(path, (forty_days_ago, forty_days_ago))
    worker = RetentionWorker(sessions=sessions, originals=originals, quarantine=quarantine, days=30)
    assert await worker.run_once() == 2
    assert not originals.exists(old) and originals.exists(recent)
    assert not quarantine.exists(stale)
    async with sessions() as session:
        [event] = (await session.scalars(select(AuditEvent))).all()
    assert event.action == "photos.retention_purge" and event.detail["originals"] == 1
    assert await worker.run_once() == 0
