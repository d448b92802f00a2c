"""The police evidence packet, format v1 (docs/packet-v1.md): one JSON document plus the files.

The document holds what police need and families never get: the tip's own words, the precise
place (pin and EXIF GPS), times, the score and its parts, the decision trail and the tipster's
pseudonym (never their identity). Files are the originals as received and our display copies,
each named by and checked against its SHA-256. A forward keeps the document it was built with,
so every retry of a delivery carries the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Decision, StaffUser, Tip, TipCluster, TipPhoto, Tipster
from storage.photostore import PhotoCorruptError, PhotoNotFoundError, PhotoStores

FORMAT = "tipline.evidence-packet"
VERSION = 1
DOCUMENT_NAME = "packet.json"
SUMS_NAME = "SHA256SUMS"
MISSING_NAME = "MISSING.txt"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same packet zips to the same bytes every time
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
}
_DETAIL_KEYS = ("answers", "additions", "place", "case_unknown")


@dataclass(frozen=True, slots=True)
class PacketFile:
    """One file the document names: where it sits in the packet, its hash, and its bytes."""

    path: str
    sha256: str
    kind: str  # original | display
    media_type: str
    data: bytes | None  # None: gone from the store (retention) or damaged; said in MISSING.txt
    problem: str = ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _case(case: Case | None) -> dict[str, Any] | None:
    if case is None:
        return None
    return {
        "ref": case.ref,
        "status": case.status,
        "full_name": case.full_name,
        "police_ref": case.police_ref,
        "last_seen_at": _iso(case.last_seen_at),
        "last_seen_place": case.last_seen_place,
        "last_seen_lat": case.last_seen_lat,
        "last_seen_lon": case.last_seen_lon,
    }


def _tip(tip: Tip, cluster: TipCluster | None) -> dict[str, Any]:
    details = tip.details or {}
    return {
        "ref": tip.ref,
        "channel": tip.channel,
        "status": tip.status,
        "urgent": tip.urgent,
        "language": tip.language,
        "received_at": _iso(tip.created_at),
        "seen_at": _iso(tip.seen_at),
        "seen_at_precision": tip.seen_at_precision,
        "text": tip.text,
        "place": {
            "text": tip.place_text,
            "lat": tip.lat,
            "lon": tip.lon,
            "source": tip.location_source,
            "precision_m": tip.location_precision_m,
        },
        "details": {key: details[key] for key in _DETAIL_KEYS if key in details},
        "cluster": {"ref": cluster.ref, "size": cluster.size} if cluster else None,
    }


def _photo_path(kind: str, sha: str, media_type: str | None) -> str:
    extension = "jpg" if kind == "display" else _EXTENSIONS.get(media_type or "", "bin")
    return f"files/{kind}/{sha}.{extension}"


def _photo(photo: TipPhoto) -> dict[str, Any]:
    original = display = None
    if photo.original_sha256:
        path = _photo_path("original", photo.original_sha256, photo.mime_type)
        original = {"path": path, "sha256": photo.original_sha256, "media_type": photo.mime_type}
    if photo.display_sha256:
        path = _photo_path("display", photo.display_sha256, "image/jpeg")
        display = {"path": path, "sha256": photo.display_sha256, "media_type": "image/jpeg"}
    return {
        "id": photo.id,
        "kind": photo.kind,
        "status": photo.status,
        "received_at": _iso(photo.created_at),
        "size_bytes": photo.size_bytes,
        "reject_reason": photo.reject_reason,
        "original": original,
        "display": display,
        "exif": {
            "lat": photo.exif_lat,
            "lon": photo.exif_lon,
            "taken_at": _iso(photo.exif_taken_at),
            "local_time": photo.exif_local_time,
            "camera": photo.camera,
        },
    }


async def _trail(session: AsyncSession, tip_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Decision, StaffUser.role)
        .join(StaffUser, StaffUser.id == Decision.staff_id)
        .where(Decision.tip_id == tip_id)
        .order_by(Decision.created_at, Decision.id)
    )
    return [
        {
            "id": decision.id,
            "at": _iso(decision.created_at),
            "outcome": decision.outcome,
            "staff_id": decision.staff_id,
            "staff_role": role,
            "note": decision.note,
            "details": decision.details or {},
        }
        for decision, role in rows.all()
    ]


async def build_packet(
    session: AsyncSession,
    *,
    tip: Tip,
    packet_id: str,
    generated_at: datetime,
    forward: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The v1 document for a tip (plain JSON values only: it is stored on the forward)."""
    case = await session.get(Case, tip.case_id) if tip.case_id else None
    tipster = await session.get(Tipster, tip.tipster_id) if tip.tipster_id else None
    cluster = await session.get(TipCluster, tip.cluster_id) if tip.cluster_id else None
    photos = await session.scalars(
        select(TipPhoto).where(TipPhoto.tip_id == tip.id).order_by(TipPhoto.id)
    )
    parts = tip.score_parts or {}
    return {
        "format": FORMAT,
        "version": VERSION,
        "packet_id": packet_id,
        "generated_at": generated_at.isoformat(),
        "case": _case(case),
        "tip": _tip(tip, cluster),
        "tipster": None
        if tipster is None
        else {
            "pseudonym": tipster.pseudonym,
            "promising_count": tipster.promising_count,
            "spam_count": tipster.spam_count,
            "contact_allowed": tip.contact_allowed,
        },
        "score": {
            "score": tip.score,
            "evaluated_at": _iso(tip.evaluated_at),
            "parts": parts.get("parts", []),
            "flags": parts.get("flags", []),
        },
        "photos": [_photo(photo) for photo in photos],
        "decisions": await _trail(session, tip.id),
        "forward": forward,
    }


def file_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The files a document names ({path, sha256, media_type, kind}), originals first."""
    entries = []
    for kind in ("original", "display"):
        for photo in document.get("photos", []):
            entry = photo.get(kind)
            if entry:
                entries.append({**entry, "kind": kind})
    return entries


def read_files(document: dict[str, Any], stores: PhotoStores) -> list[PacketFile]:
    """Read every file the document names from its store, verified (blocking: use a thread)."""
    files = []
    for entry in file_entries(document):
        store = stores.originals if entry["kind"] == "original" else stores.display
        data, problem = None, ""
        try:
            data = store.get(entry["sha256"])
        except PhotoNotFoundError:
            problem = "no longer stored (retention) or never processed"
        except PhotoCorruptError:
            problem = "stored file does not match its SHA-256"
        files.append(
            PacketFile(
                path=entry["path"],
                sha256=entry["sha256"],
                kind=entry["kind"],
                media_type=entry.get("media_type") or "application/octet-stream",
                data=data,
                problem=problem,
            )
        )
    return files


def document_bytes(document: dict[str, Any]) -> bytes:
    """The document as stable, readable JSON (sorted keys, UTF-8)."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2).encode() + b"\n"


def packet_zip(document: dict[str, Any], files: Sequence[PacketFile]) -> bytes:
    """packet.json, SHA256SUMS, the files (MISSING.txt names any gone); same bytes each time."""
    body = document_bytes(document)
    present = [f for f in files if f.data is not None]
    sums = [f"{hashlib.sha256(body).hexdigest()}  {DOCUMENT_NAME}"]
    sums += [f"{f.sha256}  {f.path}" for f in present]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, DOCUMENT_NAME, body)
        _add(archive, SUMS_NAME, ("\n".join(sums) + "\n").encode())
        for file in present:
            assert file.data is not None
            _add(archive, file.path, file.data, compress=file.kind != "original")
        missing = [f"{f.path}: {f.problem}" for f in files if f.data is None]
        if missing:
            _add(archive, MISSING_NAME, ("\n".join(missing) + "\n").encode())
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool = True) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = 0o600 << 16
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    archive.writestr(info, data)


def zip_name(document: dict[str, Any]) -> str:
    """A file name for the packet's ZIP: tipline-packet-<packet id>.zip."""
    safe = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in str(document["packet_id"]))
    return f"tipline-packet-{safe}.zip"
