"""Clusters: tips that agree (same photo, same words, same place and time) shown as one queue row.

A tip joins the cluster of any tip it agrees with; a tip that links two clusters merges them into
the older one. A cluster counts its tips (size) and its independent sources: tips from one tipster,
or whose texts are near-copies of each other, are one source, because a copy corroborates nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.dedup import PhashIndex, near_copies
from core.geo import bbox, distance_km, longitude_ranges
from storage.models import Tip, TipCluster, TipPhoto


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """When tips agree (documented in docs/scoring.md)."""

    photo_distance: int = 10
    text_threshold: float = 80.0
    text_recent_hours: float = 72.0
    text_recent_limit: int = 5000
    text_case_limit: int = 2000
    place_radius_km: float = 2.0
    time_window_hours: float = 2.0
    max_links: int = 50


DEFAULT_CLUSTER_SETTINGS = ClusterSettings()


@dataclass(frozen=True, slots=True)
class Links:
    """The other tips one tip agrees with, by kind of agreement."""

    photo: tuple[int, ...] = ()
    text: tuple[int, ...] = ()
    place_time: tuple[int, ...] = ()

    def tip_ids(self) -> set[int]:
        """Every linked tip."""
        return {*self.photo, *self.text, *self.place_time}

    def to_json(self) -> dict[str, list[int]]:
        """The links as stored in tips.score_parts['links']."""
        return {
            "photo": list(self.photo),
            "text": list(self.text),
            "place_time": list(self.place_time),
        }


@dataclass(frozen=True, slots=True)
class Member:
    """What the independence count needs to know about a cluster member."""

    tip_id: int
    tipster_id: int | None
    text_links: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterChange:
    """The cluster a tip is in after joining, and whether other members' scores are stale."""

    cluster: TipCluster
    members_changed: bool


def compatible(a: int | None, b: int | None) -> bool:
    """Whether tips about these cases may agree (the same case, or one of them unknown)."""
    return a is None or b is None or a == b


async def find_photo_links(
    session: AsyncSession,
    *,
    tip: Tip,
    phashes: Mapping[int, int],
    index: PhashIndex,
    settings: ClusterSettings = DEFAULT_CLUSTER_SETTINGS,
) -> list[int]:
    """Other tips with a near-duplicate of one of this tip's photos (photo id -> phash)."""
    nearest: dict[int, int] = {}
    for phash in phashes.values():
        for match in index.search(phash, max_distance=settings.photo_distance):
            if match.key not in phashes:
                nearest[match.key] = min(match.distance, nearest.get(match.key, 64))
    # Nearest first, so a flood of one picture still links to the closest copies.
    photo_ids = sorted(nearest, key=lambda key: (nearest[key], key))[: settings.max_links * 4]
    if not photo_ids:
        return []
    stmt = select(TipPhoto.id, Tip.id, Tip.case_id).join(Tip, Tip.id == TipPhoto.tip_id)
    rows = (await session.execute(stmt.where(TipPhoto.id.in_(photo_ids)))).all()
    by_photo = {
        photo_id: tip_id
        for photo_id, tip_id, case_id in rows
        if tip_id != tip.id and compatible(case_id, tip.case_id)
    }
    return _first_distinct((by_photo[p] for p in photo_ids if p in by_photo), settings.max_links)


def _first_distinct(values: Iterable[int], limit: int) -> list[int]:
    return list(dict.fromkeys(values))[:limit]


async def find_text_links(
    session: AsyncSession,
    *,
    tip: Tip,
    now: datetime,
    settings: ClusterSettings = DEFAULT_CLUSTER_SETTINGS,
) -> list[int]:
    """Tips whose text is a near-copy of this one: recent tips of any case, and this case's."""
    if not tip.text.strip():
        return []
    base = select(Tip.id, Tip.text, Tip.case_id).where(
        Tip.id != tip.id, func.length(Tip.text) >= 10
    )
    since = now - timedelta(hours=settings.text_recent_hours)
    recent = base.where(Tip.created_at >= since).order_by(Tip.id.desc())
    rows = list((await session.execute(recent.limit(settings.text_recent_limit))).all())
    if tip.case_id is not None:
        same_case = base.where(Tip.case_id == tip.case_id).order_by(Tip.id.desc())
        rows += (await session.execute(same_case.limit(settings.text_case_limit))).all()
    candidates = {
        tip_id: text for tip_id, text, case_id in rows if compatible(case_id, tip.case_id)
    }
    matches = near_copies(tip.text, candidates, threshold=settings.text_threshold)
    return [m.key for m in matches[: settings.max_links]]


async def find_place_time_links(
    session: AsyncSession, *, tip: Tip, settings: ClusterSettings = DEFAULT_CLUSTER_SETTINGS
) -> list[int]:
    """Tips of the same case seen close by (place_radius_km) at about the same time."""
    if tip.case_id is None or tip.lat is None or tip.lon is None or tip.seen_at is None:
        return []
    min_lat, max_lat, *_ = box = bbox(tip.lat, tip.lon, settings.place_radius_km)
    window = timedelta(hours=settings.time_window_hours)
    stmt = select(Tip.id, Tip.lat, Tip.lon).where(
        Tip.case_id == tip.case_id,
        Tip.id != tip.id,
        Tip.seen_at.between(tip.seen_at - window, tip.seen_at + window),
        Tip.lat.between(min_lat, max_lat),
        or_(*(Tip.lon.between(low, high) for low, high in longitude_ranges(box))),
    )
    rows = (await session.execute(stmt.order_by(Tip.id))).all()
    here, radius = (tip.lat, tip.lon), settings.place_radius_km
    near = [
        i
        for i, lat, lon in rows
        if lat is not None and lon is not None and distance_km(here, (lat, lon)) <= radius
    ]
    return near[: settings.max_links]


def count_independent(members: Sequence[Member]) -> int:
    """Sources among members: one per tipster, and near-copied texts are one source."""
    parent = {m.tip_id: m.tip_id for m in members}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(a: int, b: int) -> None:
        parent[root(a)] = root(b)

    first_of_tipster: dict[int, int] = {}
    for m in members:
        if m.tipster_id is not None:
            join(m.tip_id, first_of_tipster.setdefault(m.tipster_id, m.tip_id))
        for other in m.text_links:
            if other in parent:
                join(m.tip_id, other)
    return len({root(m.tip_id) for m in members})


def stored_text_links(score_parts: Mapping[str, Any]) -> tuple[int, ...]:
    """The text near-copies a tip's last evaluation recorded."""
    links = score_parts.get("links") or {}
    return tuple(int(x) for x in links.get("text", ()))


async def list_members(session: AsyncSession, *, cluster_id: int) -> list[Member]:
    """The members of a cluster with what independence needs."""
    stmt = select(Tip.id, Tip.tipster_id, Tip.score_parts).where(Tip.cluster_id == cluster_id)
    rows = (await session.execute(stmt.order_by(Tip.id))).all()
    return [
        Member(tip_id, tipster_id, stored_text_links(parts or {}))
        for tip_id, tipster_id, parts in rows
    ]


async def join_cluster(
    session: AsyncSession, *, tip: Tip, related: Collection[int], text_links: Sequence[int] = ()
) -> ClusterChange | None:
    """Put tip and the tips it agrees with in one cluster (created or merged); None if alone.

    A tip never leaves its cluster; tips and clusters of another case are left out.
    """
    rows = []
    if related:
        stmt = select(Tip.id, Tip.case_id, Tip.cluster_id).where(Tip.id.in_(sorted(related)))
        rows = list((await session.execute(stmt.order_by(Tip.id))).all())
    own = await session.get(TipCluster, tip.cluster_id) if tip.cluster_id is not None else None
    case_id = tip.case_id if tip.case_id is not None else own.case_id if own else None
    if case_id is None:
        case_id = next((row.case_id for row in rows if row.case_id is not None), None)
    others = await _clusters(session, {r.cluster_id for r in rows} - {None, tip.cluster_id})
    clusters = ([own] if own else []) + [c for c in others if compatible(c.case_id, case_id)]
    loose = [r.id for r in rows if r.cluster_id is None and compatible(r.case_id, case_id)]
    if not clusters and not loose:
        return None
    target = min(clusters, key=lambda c: c.id) if clusters else await _new_cluster(session, case_id)
    merged = await _absorb(session, target, [c for c in clusters if c is not target])
    newcomers = [*loose, tip.id] if tip.cluster_id != target.id else loose
    if newcomers:
        move = update(Tip).where(Tip.id.in_(newcomers)).values(cluster_id=target.id)
        await session.execute(move)
    tip.cluster_id = target.id
    if target.case_id is None:
        target.case_id = case_id
    before = (target.size, target.independent_sources)
    await refresh_counts(session, cluster=target, text_links={tip.id: tuple(text_links)})
    changed = merged or before != (target.size, target.independent_sources)
    return ClusterChange(cluster=target, members_changed=changed)


async def refresh_counts(
    session: AsyncSession, *, cluster: TipCluster, text_links: Mapping[int, tuple[int, ...]]
) -> None:
    """Recount size and independent sources (text_links overrides what members stored)."""
    members = [
        Member(m.tip_id, m.tipster_id, text_links.get(m.tip_id, m.text_links))
        for m in await list_members(session, cluster_id=cluster.id)
    ]
    cluster.size = max(1, len(members))
    cluster.independent_sources = max(1, count_independent(members))


async def _clusters(session: AsyncSession, ids: set[int | None]) -> list[TipCluster]:
    if not ids:
        return []
    stmt = select(TipCluster).where(TipCluster.id.in_(sorted(i for i in ids if i is not None)))
    return list((await session.scalars(stmt.order_by(TipCluster.id))).all())


async def _new_cluster(session: AsyncSession, case_id: int | None) -> TipCluster:
    cluster = TipCluster(case_id=case_id, size=1, independent_sources=1)
    session.add(cluster)
    await session.flush()
    return cluster


async def _absorb(session: AsyncSession, target: TipCluster, others: Sequence[TipCluster]) -> bool:
    """Move the tips of the other clusters into target and delete them."""
    if not others:
        return False
    ids = [c.id for c in others]
    await session.execute(update(Tip).where(Tip.cluster_id.in_(ids)).values(cluster_id=target.id))
    await session.execute(delete(TipCluster).where(TipCluster.id.in_(ids)))
    return True
