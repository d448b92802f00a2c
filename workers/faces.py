"""The face worker: looks for faces in new case and tip photos and records matches for moderators.

Each round: (1) case photos not yet looked at are embedded (and the case's matches with other
cases refreshed, core/cases/matching.py); (2) the in-memory index of active
cases' faces is rebuilt when its set of faces changed, and faces new to it (a new photo, a case
just made active, or every face after a restart) are compared with every tip face so far;
(3) tip photos not yet looked at are embedded and compared with the index. A photo is looked at
once: afterwards it has face rows or a 'no face' marker row (see core/faces/records.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.cases.matching import refresh_matches
from core.faces import (
    DEFAULT_THRESHOLD,
    Embedder,
    FaceIndex,
    embed_case_photo,
    embed_tip_photo,
    list_active_case_face_ids,
    load_case_index,
    mark_photo_unusable,
    match_faces_against_tips,
    match_tip_faces,
)
from core.faces.engine import OFF_MESSAGE
from core.faces.records import list_case_photos_to_embed, list_tip_photos_to_embed
from core.metrics import FACE_SECONDS
from core.photos import PhotoRejected, process_photo_async
from storage.models import Case, CasePhoto, TipPhoto
from storage.photostore import PhotoCorruptError, PhotoNotFoundError, PhotoStores
from workers.rounds import run_rounds

log = logging.getLogger("tipline.faces")


class FaceWorker:
    """Embeds new photos and records face matches; does nothing when the engine is None."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        engine: Embedder | None,
        stores: PhotoStores,
        threshold: float = DEFAULT_THRESHOLD,
        batch: int = 10,
        idle_interval: float = 5.0,
        max_attempts: int = 3,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.stores = stores
        self.threshold = threshold
        self.batch = batch
        self.idle_interval = idle_interval
        self.max_attempts = max_attempts
        self.index: FaceIndex | None = None
        self._failures: Counter[tuple[str, int]] = Counter()
        self._unmatched: set[int] = set()  # tips whose faces are stored but not yet compared

    async def run_forever(self) -> None:
        """Work until cancelled; returns at once when face matching is off."""
        if self.engine is None:
            log.info(OFF_MESSAGE)
            return
        await run_rounds(self.run_once, pause=self.idle_interval, log=log, name="face")

    async def run_once(self) -> int:
        """One round; returns how many photos were looked at plus matches found for new faces."""
        if self.engine is None:
            return 0
        done = await self._case_photos(self.engine)
        done += await self.refresh_index()
        done += await self._tip_photos(self.engine)
        return done

    async def refresh_index(self) -> int:
        """Rebuild the index if active faces changed; match faces new to it against all tips."""
        async with self.sessions() as session:
            current = await list_active_case_face_ids(session)
            if self.index is not None and current == self.index.face_ids:
                return 0
            index = await load_case_index(session)
            known = self.index.face_ids if self.index is not None else frozenset()
            new = index.subset(index.face_ids - known)
            added = await match_faces_against_tips(session, faces=new, threshold=self.threshold)
        self.index = index
        log.info("face index: %d active case faces, %d new matches", len(index), added)
        return added

    async def _case_photos(self, engine: Embedder) -> int:
        async with self.sessions() as session:
            photos = await list_case_photos_to_embed(session, limit=self.batch)
            for photo in photos:
                ref = _Ref("case photo", photo.id, photo.case_id)
                if not await self._guard(session, ref, self._case_photo(session, engine, photo)):
                    break  # the rollback expired the rest of the batch; next round reloads it
        return len(photos)

    async def _tip_photos(self, engine: Embedder) -> int:
        async with self.sessions() as session:
            for tip_id in sorted(self._unmatched):
                await self._match_tip(session, tip_id)
            photos = await list_tip_photos_to_embed(session, limit=self.batch)
            for photo in photos:
                ref = _Ref("tip photo", photo.id, None)
                with FACE_SECONDS.time():
                    ok = await self._guard(session, ref, self._tip_photo(session, engine, photo))
                if not ok:
                    break
        return len(photos)

    async def _case_photo(self, session: AsyncSession, engine: Embedder, photo: CasePhoto) -> None:
        try:
            image = await self._case_copy(photo)
        except (PhotoNotFoundError, PhotoCorruptError, PhotoRejected) as exc:
            log.info("case photo %s has no usable copy: %r", photo.id, exc)
            await mark_photo_unusable(
                session, case_photo_id=photo.id, case_id=photo.case_id, reason=_reason(exc)
            )
            return
        case_id = photo.case_id
        if await embed_case_photo(session, engine, case_photo=photo, display_bytes=image):
            await self._refresh_case_matches(session, case_id)

    async def _refresh_case_matches(self, session: AsyncSession, case_id: int) -> None:
        """A new face may link the case with a found person or a duplicate record."""
        case = await session.get(Case, case_id)
        if case is not None:
            await refresh_matches(session, case=case, face_threshold=self.threshold)
            await session.commit()

    async def _case_copy(self, photo: CasePhoto) -> bytes:
        """Our clean copy of a case photo; an original goes through the sandbox first."""
        if photo.display_sha256:
            return await self.stores.display.aget(photo.display_sha256)
        original = await self.stores.originals.aget(photo.original_sha256)
        return (await process_photo_async(original)).display

    async def _tip_photo(self, session: AsyncSession, engine: Embedder, photo: TipPhoto) -> None:
        tip_id = photo.tip_id
        try:
            image = await self.stores.display.aget(photo.display_sha256 or "")
        except (PhotoNotFoundError, PhotoCorruptError, ValueError) as exc:
            log.info("tip photo %s has no usable display copy: %r", photo.id, exc)
            await mark_photo_unusable(session, tip_photo_id=photo.id, reason=_reason(exc))
            return
        if await embed_tip_photo(session, engine, tip_photo=photo, display_bytes=image):
            self._unmatched.add(tip_id)
            await self._match_tip(session, tip_id)

    async def _match_tip(self, session: AsyncSession, tip_id: int) -> None:
        index = self.index if self.index is not None else FaceIndex.empty()
        await match_tip_faces(session, tip_id=tip_id, index=index, threshold=self.threshold)
        self._unmatched.discard(tip_id)

    async def _guard(self, session: AsyncSession, ref: _Ref, work: Awaitable[None]) -> bool:
        """Run one photo's work; after max_attempts unexpected failures, mark it and move on."""
        key = (ref.kind, ref.id)
        try:
            await work
        except Exception:
            await session.rollback()
            self._failures[key] += 1
            log.exception("faces of %s %s failed (%d)", ref.kind, ref.id, self._failures[key])
            if self._failures[key] >= self.max_attempts:
                del self._failures[key]
                await mark_photo_unusable(
                    session,
                    tip_photo_id=ref.id if ref.kind == "tip photo" else None,
                    case_photo_id=ref.id if ref.kind == "case photo" else None,
                    case_id=ref.case_id,
                    reason="failed",
                )
            return False
        self._failures.pop(key, None)
        return True


@dataclass(frozen=True, slots=True)
class _Ref:
    """A photo by plain values, usable after a rollback has expired its row."""

    kind: str
    id: int
    case_id: int | None


def _reason(exc: Exception) -> str:
    if isinstance(exc, PhotoRejected):
        return f"rejected:{exc.reason_code}"
    return {PhotoNotFoundError: "missing", PhotoCorruptError: "corrupt"}.get(
        type(exc), "unreadable"
    )
