"""Evaluating one tip: find its duplicates, put it in its cluster, score it, store the score.

A stored score that changed is kept in the tip's history (tip_scores) with the reason;
rescore_tip scores an evaluated tip again without touching its cluster (core/tips/rescoring.py).

evaluate_tip reads everything first and writes last, so a SQLite write lock is held briefly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.dedup import PhashIndex, hamming
from core.tips.clusters import (
    DEFAULT_CLUSTER_SETTINGS,
    ClusterSettings,
    Links,
    find_photo_links,
    find_place_time_links,
    find_text_links,
    join_cluster,
)
from core.tips.extortion import extortion_signs
from core.tips.face_ages import tip_face
from core.tips.recycled import recycled_from
from core.tips.scoring import (
    DEFAULT_SETTINGS,
    PRECISE_SOURCES,
    CaseFacts,
    LeadScore,
    ScoreSettings,
    Sighting,
    TipFacts,
    TipsterRecord,
    probable_area,
    score_tip,
)
from storage.models import (
    Case,
    CasePhoto,
    Tip,
    TipCluster,
    TipPhoto,
    TipScore,
    Tipster,
)

MAX_SIGHTINGS = 200
FIRST_SCORED = "Scored when its evidence was first evaluated."
SCORED_AGAIN = "Evaluated again: new evidence, an answer or a change in its cluster."
CLUSTER_CHANGED = "Its cluster changed: reports joined or left the ones that agree with it."
_LINK_KINDS = tuple(f.name for f in fields(Links))


@dataclass(frozen=True, slots=True)
class EvidenceSettings:
    """Clustering and scoring thresholds, and how many cluster members a change re-scores."""

    clusters: ClusterSettings = DEFAULT_CLUSTER_SETTINGS
    scoring: ScoreSettings = DEFAULT_SETTINGS
    rescore_limit: int = 100


DEFAULT_EVIDENCE_SETTINGS = EvidenceSettings()


async def evaluate_tip(
    session: AsyncSession,
    *,
    tip_id: int,
    phash_index: PhashIndex,
    now: datetime,
    settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
) -> None:
    """Dedupe, cluster and score one tip, storing score, score_parts and evaluated_at; commits."""
    tip = await session.get(Tip, tip_id)
    if tip is None:
        return
    photos = await _processed_photos(session, tip_id=tip.id)
    phashes = {p.id: p.phash for p in photos if p.phash is not None}
    cs = settings.clusters
    links = Links(
        photo=tuple(
            await find_photo_links(
                session, tip=tip, phashes=phashes, index=phash_index, settings=cs
            )
        ),
        text=tuple(await find_text_links(session, tip=tip, now=now, settings=cs)),
        place_time=tuple(await find_place_time_links(session, tip=tip, settings=cs)),
    )
    recycled = await recycled_from(
        session, tip=tip, phashes=phashes, index=phash_index, distance=cs.photo_distance
    )
    facts, case, others = await _score_inputs(session, tip, photos, settings, recycled)
    for photo_id, phash in phashes.items():
        phash_index.add(photo_id, phash)
    change = await join_cluster(session, tip=tip, related=links.tip_ids(), text_links=links.text)
    if change is not None:
        cluster = change.cluster
        facts = replace(
            facts, cluster_size=cluster.size, independent_sources=cluster.independent_sources
        )
    _store(session, tip, facts, case=case, others=others, links=links, now=now, settings=settings)
    tip.evaluated_at = now
    if change is not None and change.members_changed:
        await _mark_members(session, cluster=change.cluster, tip_id=tip.id, s=settings)
    await session.commit()


def _store(
    session: AsyncSession,
    tip: Tip,
    facts: TipFacts,
    *,
    case: CaseFacts | None,
    others: Sequence[Sighting],
    links: Links,
    now: datetime,
    settings: EvidenceSettings,
    reason: str | None = None,
) -> None:
    result = score_tip(facts, case=case, others=others, now=now, settings=settings.scoring)
    if reason is None:
        reason = SCORED_AGAIN if tip.score_parts else FIRST_SCORED
    store_score(
        session, tip, result, links=links, now=now, reason=reason, recycled=facts.recycled_from
    )


def store_score(
    session: AsyncSession,
    tip: Tip,
    result: LeadScore,
    *,
    links: Links,
    now: datetime,
    reason: str,
    recycled: Sequence[str] = (),
) -> None:
    """Put a score on the tip; its first score and every change go into its history."""
    if result.score != tip.score or not tip.score_parts:
        session.add(TipScore(tip_id=tip.id, at=now, score=result.score, reason=reason[:200]))
    tip.score = result.score
    tip.score_parts = {
        **result.to_json(),
        "links": links.to_json(),
        "recycled_from": list(recycled),
    }


async def rescore_tip(
    session: AsyncSession,
    *,
    tip: Tip,
    now: datetime,
    reason: str,
    settings: EvidenceSettings = DEFAULT_EVIDENCE_SETTINGS,
) -> bool:
    """Score an evaluated tip again with the links it has (no re-clustering); never commits.

    False for a tip never evaluated: the evidence worker scores it in full, case and all."""
    tip.rescore_reason = None
    if tip.evaluated_at is None:
        return False
    photos = await _processed_photos(session, tip_id=tip.id)
    recycled = tuple(tip.score_parts.get("recycled_from") or ())  # found when evaluated
    facts, case, others = await _score_inputs(session, tip, photos, settings, recycled)
    links = stored_links(tip.score_parts)
    _store(
        session,
        tip,
        facts,
        case=case,
        others=others,
        links=links,
        now=now,
        settings=settings,
        reason=reason,
    )
    return True


async def _mark_members(
    session: AsyncSession, *, cluster: TipCluster, tip_id: int, s: EvidenceSettings
) -> None:
    """Other evaluated members' corroboration changed with the cluster: mark the newest
    `rescore_limit` of them for the rescoring worker (core/tips/rescoring.py), which scores each
    marked tip once a round. A flood of copies joining one cluster then costs one statement a
    tip, not a full scoring of every member for every copy."""
    newest = (
        select(Tip.id)
        .where(Tip.cluster_id == cluster.id, Tip.id != tip_id, Tip.evaluated_at.is_not(None))
        .order_by(Tip.id.desc())
        .limit(s.rescore_limit)
    )
    await session.execute(
        update(Tip)
        .where(Tip.id.in_(newest.scalar_subquery()), Tip.rescore_reason.is_(None))
        .values(rescore_reason=CLUSTER_CHANGED)
        .execution_options(synchronize_session=False)
    )


def stored_links(score_parts: Mapping[str, Any]) -> Links:
    """The links a tip's last evaluation recorded."""
    raw = score_parts.get("links") or {}
    return Links(**{kind: tuple(int(i) for i in raw.get(kind, ())) for kind in _LINK_KINDS})


async def _processed_photos(session: AsyncSession, *, tip_id: int) -> list[TipPhoto]:
    stmt = select(TipPhoto).where(TipPhoto.tip_id == tip_id, TipPhoto.status == "processed")
    return list((await session.scalars(stmt.order_by(TipPhoto.id))).all())


async def _score_inputs(
    session: AsyncSession,
    tip: Tip,
    photos: Sequence[TipPhoto],
    settings: EvidenceSettings,
    recycled: tuple[str, ...],
) -> tuple[TipFacts, CaseFacts | None, list[Sighting]]:
    case = await session.get(Case, tip.case_id) if tip.case_id is not None else None
    case_facts = None
    if case is not None:
        case_facts = CaseFacts(case.last_seen_at, case.last_seen_lat, case.last_seen_lon)
    tipster = await session.get(Tipster, tip.tipster_id) if tip.tipster_id is not None else None
    record = None
    if tipster is not None:
        record = TipsterRecord(tipster.promising_count, tipster.spam_count, tipster.blocked)
    cluster = await session.get(TipCluster, tip.cluster_id) if tip.cluster_id else None
    where_when = _where_and_when(tip, photos, settings.scoring)
    facts = TipFacts(
        **where_when,
        photos=len(photos),
        case_photo_copies=await _case_photo_copies(session, tip, photos, settings),
        recycled_from=recycled,
        extortion=tuple(extortion_signs(tip.text)),
        **await _face_facts(session, tip, seen_at=where_when["seen_at"]),
        cluster_size=cluster.size if cluster else 1,
        independent_sources=cluster.independent_sources if cluster else 1,
        tipster=record,
    )
    return facts, case_facts, await _other_sightings(session, tip, facts, settings.scoring)


def _where_and_when(tip: Tip, photos: Sequence[TipPhoto], s: ScoreSettings) -> dict[str, Any]:
    """The best place (a precise point > the photo's GPS > a typed town) and the seen time."""
    exif = next((p for p in photos if p.exif_lat is not None and p.exif_lon is not None), None)
    precise = tip.location_source in PRECISE_SOURCES and (
        tip.location_precision_m is None or tip.location_precision_m <= s.coarse_precision_m
    )
    seen_at = tip.seen_at
    if seen_at is None:
        seen_at = next((p.exif_taken_at for p in photos if p.exif_taken_at is not None), None)
    when = {"seen_at": seen_at, "seen_at_precision": tip.seen_at_precision}
    place: tuple[float | None, float | None, str | None, float | None]
    if tip.lat is not None and (precise or exif is None):
        place = (tip.lat, tip.lon, tip.location_source, tip.location_precision_m)
    elif exif is not None:
        place = (exif.exif_lat, exif.exif_lon, "exif", None)
    else:
        place = (None, None, None, None)
    keys = ("lat", "lon", "location_source", "location_precision_m")
    return when | dict(zip(keys, place, strict=True))


async def _case_photo_copies(
    session: AsyncSession, tip: Tip, photos: Sequence[TipPhoto], settings: EvidenceSettings
) -> int:
    """How many of the tip's photos are near-copies of the case's own photos."""
    if tip.case_id is None or not photos:
        return 0
    stmt = select(CasePhoto.phash).where(
        CasePhoto.case_id == tip.case_id, CasePhoto.phash.is_not(None)
    )
    case_hashes = [h for h in (await session.scalars(stmt)).all() if h is not None]
    limit = settings.clusters.photo_distance
    return sum(
        1
        for p in photos
        if p.phash is not None and any(hamming(p.phash, h) <= limit for h in case_hashes)
    )


async def _face_facts(
    session: AsyncSession, tip: Tip, *, seen_at: datetime | None
) -> dict[str, Any]:
    """The face the score uses: nearest in age to the child at the tip's date (core/tip_faces)."""
    found = await tip_face(session, tip=tip, at=seen_at or tip.created_at)
    if found is None:
        return {}
    hit = found.hit
    return {"face_similarity": hit.similarity, "face": hit, "face_age_years": found.age_years}


async def _other_sightings(
    session: AsyncSession, tip: Tip, facts: TipFacts, s: ScoreSettings
) -> list[Sighting]:
    """Credible scored sightings of the same case near this one in time."""
    if tip.case_id is None or facts.seen_at is None:
        return []
    window = timedelta(hours=s.contradiction_window_h)
    stmt = select(Tip).where(
        Tip.case_id == tip.case_id,
        Tip.id != tip.id,
        Tip.score >= s.credible_score,
        Tip.seen_at.between(facts.seen_at - window, facts.seen_at + window),
    )
    rows = (await session.scalars(stmt.order_by(Tip.score.desc()).limit(MAX_SIGHTINGS))).all()
    return [_sighting(row) for row in rows if row.lat is not None and row.lon is not None]


def _sighting(tip: Tip) -> Sighting:
    flags = frozenset(str(f.get("code")) for f in tip.score_parts.get("flags", ()))
    return Sighting(
        tip_id=tip.id,
        ref=tip.ref,
        lat=float(tip.lat or 0.0),
        lon=float(tip.lon or 0.0),
        seen_at=tip.seen_at or tip.created_at,
        score=float(tip.score or 0.0),
        precision_m=tip.location_precision_m,
        flags=flags,
    )


async def case_area(
    session: AsyncSession, *, case_id: int, settings: ScoreSettings = DEFAULT_SETTINGS
) -> tuple[float, float, float] | None:
    """The probable area (lat, lon, radius_km) of a case from its credible sightings (map)."""
    stmt = select(Tip).where(
        Tip.case_id == case_id,
        Tip.score >= settings.credible_score,
        Tip.lat.is_not(None),
        Tip.lon.is_not(None),
        Tip.seen_at.is_not(None),
    )
    rows = (await session.scalars(stmt.order_by(Tip.seen_at.desc()).limit(MAX_SIGHTINGS))).all()
    return probable_area([_sighting(row) for row in rows], settings=settings)
