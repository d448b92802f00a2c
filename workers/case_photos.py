"""The case photo worker: the same sandboxed sanitiser as tip photos, for photos of a case."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.delivery.people import notice_of, tell
from core.i18n import Texts
from core.metrics import PHOTO_SECONDS
from core.photos import PhotoRejected
from core.tips.evidence import REFUSAL_TEXTS, signed64
from storage.models import Case, CasePhoto, Tipster
from storage.photostore import MediaStore, PhotoStores
from workers.photos import TRANSIENT, CleanCopies, Fetch, FetchFailed, PhotoSource, sanitise
from workers.rounds import run_rounds

log = logging.getLogger("tipline.case_photos")
# Cases registered in a chat ("bot": an older name of Telegram's); the person hears back on
# their own channel (core.delivery.people).
CHAT_CHANNELS = frozenset({"telegram", "bot", "whatsapp"})


def apply_clean(row: CasePhoto, clean: CleanCopies) -> None:
    """Record the clean copies of a case photo; the camera's own time only when it has a zone."""
    row.status = "ready"
    row.original_sha256 = clean.photo.sha256
    row.display_sha256 = clean.display
    row.thumb_sha256 = clean.thumb
    row.phash = signed64(clean.photo.phash)
    captured = clean.photo.evidence.captured_at
    row.taken_at = captured if captured is not None and captured.tzinfo is not None else None
    row.reject_reason = None


async def tell_submitter_photo_refused(session: AsyncSession, *, photo: CasePhoto) -> bool:
    """Queue a clear message to the person who registered the case in a chat, on the channel
    they used (no commit)."""
    case = await session.get(Case, photo.case_id)
    if case is None or case.submitted_by_tipster_id is None or case.channel not in CHAT_CHANNELS:
        return False
    person = await session.get(Tipster, case.submitted_by_tipster_id)
    if person is None or person.blocked:
        return False
    texts = Texts(person.language)
    reason = texts(REFUSAL_TEXTS.get(photo.reject_reason or "", "photo.refused.other"))
    text = texts("case.photo_refused", ref=case.ref, reason=reason)
    notice = notice_of(text, person.language)
    return await tell(
        session, tipster_id=person.id, notice=notice, key=f"case-photo-refused:{photo.id}"
    )


class CasePhotoWorker:
    """Processes quarantined case photos; retries transient failures a few times."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stores: PhotoStores,
        quarantine: MediaStore,
        fetch: Fetch,
        max_attempts: int = 5,
        idle_interval: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.stores = stores
        self.source = PhotoSource(quarantine=quarantine, fetch=fetch, originals=stores.originals)
        self.max_attempts = max_attempts
        self.idle_interval = idle_interval

    async def run_forever(self) -> None:
        """Process until cancelled."""
        await run_rounds(self.run_once, pause=self.idle_interval, log=log, name="case photo")

    async def run_once(self) -> int:
        """Process every quarantined case photo due now; returns how many were handled."""
        done, last = 0, 0
        while done < 20:
            # One transaction per photo: its row lock is the claim (FOR UPDATE SKIP LOCKED).
            async with self.sessions() as session:
                row = await _claim_quarantined(session, after=last)
                if row is None:
                    break
                last = row.id
                started = time.perf_counter()
                await self._handle(session, row)
                await session.commit()
            PHOTO_SECONDS.labels(kind="case").observe(time.perf_counter() - started)
            done += 1
        return done

    async def _handle(self, session: AsyncSession, row: CasePhoto) -> None:
        row.attempts += 1
        try:
            clean = await sanitise(self.stores, await self.source.read(row.source_ref or ""))
        except PhotoRejected as exc:
            code = exc.reason_code
            await self._fail(session, row, code, permanent=code not in TRANSIENT)
        except FetchFailed as exc:
            await self._fail(session, row, exc.reason, permanent=exc.permanent)
        else:
            apply_clean(row, clean)
            # A new photo changes the poster: its cached renders are stale now.
            case = await session.get(Case, row.case_id)
            if case is not None:
                case.poster_version = (case.poster_version or 0) + 1
            await self.source.forget(row.source_ref or "")

    async def _fail(
        self, session: AsyncSession, row: CasePhoto, reason: str, *, permanent: bool
    ) -> None:
        row.reject_reason = reason[:200]
        log.info("case photo %s not processed: %s", row.id, reason)
        if permanent or row.attempts >= self.max_attempts:
            row.status = "rejected"
            # The notice commits with the row's new status (transactional outbox).
            await tell_submitter_photo_refused(session, photo=row)


async def _claim_quarantined(session: AsyncSession, *, after: int) -> CasePhoto | None:
    """The oldest waiting case photo after `after`, locked (skipped by other workers)."""
    stmt = (
        select(CasePhoto)
        .where(CasePhoto.status == "quarantined", CasePhoto.id > after)
        .order_by(CasePhoto.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(stmt)).first()
