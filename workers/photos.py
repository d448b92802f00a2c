"""The photo worker: fetch quarantined files, sanitise them in a sandbox, store clean copies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.metrics import PHOTO_SECONDS
from core.photos import PhotoRejected, ProcessedPhoto, process_photo_async
from core.tips.evidence import apply_processed, tell_sender_photo_refused
from storage.models import TipPhoto
from storage.photostore import MediaStore, PhotoCorruptError, PhotoNotFoundError, PhotoStores
from storage.repositories import TipRepository
from workers.rounds import run_rounds

log = logging.getLogger("tipline.photos")

Fetch = Callable[[str], Awaitable[bytes]]
PHOTO_KINDS = frozenset({"photo", "document"})
TRANSIENT = frozenset({"unavailable"})
# After a failed write to the media disk (full, read-only), the worker waits this long before it
# tries again: each try decodes a photo in the sandbox first, too dear to repeat every round.
STORAGE_PAUSE = 15.0


class FetchFailed(Exception):
    """The file could not be fetched; `permanent` says whether retrying can help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def by_source(fetchers: Mapping[str, Fetch]) -> Fetch:
    """One fetch for files from several channels, chosen by the reference's prefix
    ("telegram", "whatsapp"); a reference of no channel here fails for good."""

    async def fetch(source_ref: str) -> bytes:
        chosen = fetchers.get(source_ref.partition(":")[0])
        if chosen is None:
            raise FetchFailed("unknown_source", permanent=True)
        return await chosen(source_ref)

    return fetch


class PhotoSource:
    """Where quarantined bytes come from: the web quarantine store, or a Telegram file.

    Quarantine is content-addressed, so two uploads of the same bytes (a picture passed around
    and sent by several people) share one file, which goes once the first of them has clean
    copies. The later ones then read the same bytes from the originals store, where they were
    kept under the same hash. A file found in neither is refused with a reason, never retried
    for ever: one missing file must not hold up the photos queued behind it."""

    def __init__(
        self, *, quarantine: MediaStore, fetch: Fetch, originals: MediaStore | None = None
    ) -> None:
        self.quarantine = quarantine
        self.fetch = fetch
        self.originals = originals

    async def read(self, source_ref: str) -> bytes:
        """The untrusted bytes of "quarantine:<sha>", "telegram:<file_id>" (or "tg:"), or
        "whatsapp:<media id>".

        A file gone from quarantine fails for good; a store that cannot answer (disk, S3)
        raises OSError, which the workers treat as their own outage, not the photo's."""
        if source_ref.startswith("quarantine:"):
            sha = source_ref.removeprefix("quarantine:")
            try:
                return await self.quarantine.aget(sha)
            except (PhotoNotFoundError, FileNotFoundError):
                return await self._kept(sha)
            except (PhotoCorruptError, ValueError) as exc:
                raise FetchFailed("missing", permanent=True) from exc
        if source_ref.startswith("tg:"):  # case photos name Telegram files more briefly
            source_ref = "telegram:" + source_ref.removeprefix("tg:")
        return await self.fetch(source_ref)

    async def _kept(self, sha: str) -> bytes:
        """The same bytes, already processed for an earlier upload and kept as its original."""
        if self.originals is not None:
            try:
                return await self.originals.aget(sha)
            except (PhotoNotFoundError, PhotoCorruptError, FileNotFoundError):
                pass  # a store that cannot answer raises OSError: an outage, tried again
        raise FetchFailed("missing", permanent=True)

    async def forget(self, source_ref: str) -> None:
        """Drop a web upload from quarantine once it has clean copies."""
        if source_ref.startswith("quarantine:"):
            sha = source_ref.removeprefix("quarantine:")
            await asyncio.to_thread(self.quarantine.delete, sha)


@dataclass(frozen=True, slots=True)
class CleanCopies:
    """A sanitised photo and the addresses of its display copy and thumbnail."""

    photo: ProcessedPhoto
    display: str
    thumb: str


async def sanitise(stores: PhotoStores, data: bytes) -> CleanCopies:
    """Decode in the sandbox, keep the original (restricted) and store our clean re-encodes."""
    photo = await process_photo_async(data)
    await stores.originals.aput(data)
    display = await stores.display.aput(photo.display)
    thumb = await stores.thumbnails.aput(photo.thumbnail)
    return CleanCopies(photo=photo, display=display, thumb=thumb)


class PhotoWorker:
    """Processes quarantined tip files; retries transient failures a few times."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stores: PhotoStores,
        quarantine: MediaStore,
        fetch: Fetch,
        max_attempts: int = 5,
        idle_interval: float = 2.0,
        batch: int = 20,
    ) -> None:
        self.sessions = sessions
        self.batch = batch
        self.stores = stores
        self.quarantine = quarantine
        self.fetch = fetch
        self.source = PhotoSource(quarantine=quarantine, fetch=fetch, originals=stores.originals)
        self.max_attempts = max_attempts
        self.idle_interval = idle_interval
        self._paused_until = 0.0
        self._storage_error: str | None = None

    async def run_forever(self) -> None:
        """Process until cancelled."""
        await run_rounds(self.run_once, pause=self.idle_interval, log=log, name="photo")

    async def run_once(self) -> int:
        """Process every quarantined file due now; returns how many were handled."""
        if time.monotonic() < self._paused_until:
            return 0
        self._storage_error = None
        done, last = 0, 0
        while done < self.batch:
            # One transaction per file: its row lock is the claim (see claim_quarantined_photo).
            async with self.sessions() as session:
                row = await TipRepository(session).claim_quarantined_photo(after=last)
                if row is None:
                    break
                last = row.id
                started = time.perf_counter()
                if self._storage_error is None:
                    await self._handle(session, row)
                else:  # not tried: the disk just failed, the row waits with the same reason
                    row.reject_reason = self._storage_error
                await session.commit()
            PHOTO_SECONDS.labels(kind="tip").observe(time.perf_counter() - started)
            done += 1
        return done

    async def _handle(self, session: AsyncSession, row: TipPhoto) -> None:
        row.attempts += 1
        try:
            data = await self.source.read(row.source_ref or "")
            if row.kind in PHOTO_KINDS:
                await self._sanitise(row, data)
            else:
                # Videos and voice notes are kept as evidence; they are never shown or sent.
                row.original_sha256 = await self.stores.originals.aput(data)
                row.size_bytes = len(data)
                row.status = "stored"
        except PhotoRejected as exc:
            await self._fail(
                session, row, exc.reason_code, permanent=exc.reason_code not in TRANSIENT
            )
        except FetchFailed as exc:
            await self._fail(session, row, exc.reason, permanent=exc.permanent)
        except OSError as exc:
            self._park(row, exc)
        else:
            if (row.reject_reason or "").startswith("storage:"):
                row.reject_reason = None  # the disk had room again
            await self.source.forget(row.source_ref or "")

    def _park(self, row: TipPhoto, error: OSError) -> None:
        """The media disk failed (full, read-only): our fault, not the photo's. It stays in
        quarantine with the reason for whoever looks, the try is not counted, and the worker
        pauses; it goes on by itself once the disk takes writes again."""
        row.attempts -= 1
        row.reject_reason = f"storage: {error.strerror or type(error).__name__}"[:200]
        self._storage_error = row.reject_reason
        self._paused_until = time.monotonic() + STORAGE_PAUSE
        log.warning("tip file %s parked: the media store failed: %s", row.id, error)

    async def _sanitise(self, row: TipPhoto, data: bytes) -> None:
        clean = await sanitise(self.stores, data)
        apply_processed(row, clean.photo, display=clean.display, thumb=clean.thumb)

    async def _fail(
        self, session: AsyncSession, row: TipPhoto, reason: str, *, permanent: bool
    ) -> None:
        row.reject_reason = reason
        log.info("tip file %s not processed: %s", row.id, reason)
        if permanent or row.attempts >= self.max_attempts:
            row.status = "rejected"
            # The refusal commits with the row's new status (transactional outbox).
            await tell_sender_photo_refused(session, photo=row)
