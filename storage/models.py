"""SQLAlchemy models: the first cut of Tipline's data (grow it through migrations)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.refs import new_ref
from storage.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


OPEN_TIPS_SQL = "status IN ('received', 'under_review', 'needs_info', 'answered')"
RESCORE_DUE_SQL = "rescore_reason IS NOT NULL"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so every constraint has a stable name."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Timestamped:
    """created_at / updated_at, evaluated per row (never once at import)."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Case(Timestamped, Base):
    """A missing person (kind "missing"), or a found or unidentified person looking for family
    (kind "found"); both go through the same lifecycle (docs/cases.md)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_last_seen", "last_seen_lat", "last_seen_lon"),
        UniqueConstraint("source_name", "source_id", name="uq_cases_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True, default=new_ref)
    kind: Mapped[str] = mapped_column(String(10), default="missing", server_default="missing")
    status: Mapped[str] = mapped_column(String(20), default="submitted", index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    nicknames: Mapped[str] = mapped_column(Text, default="")
    sex: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date | None] = mapped_column(Date)
    # Age in years at last_seen_at, when the birth date is not known (or only roughly).
    age_years: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    marks: Mapped[str] = mapped_column(Text, default="", server_default="")
    dialect: Mapped[str] = mapped_column(String(100), default="", server_default="")
    circumstances: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_seen_at: Mapped[datetime | None]
    last_seen_place: Mapped[str | None] = mapped_column(String(300))
    last_seen_lat: Mapped[float | None] = mapped_column(Float)
    last_seen_lon: Mapped[float | None] = mapped_column(Float)
    police_ref: Mapped[str | None] = mapped_column(String(100))
    languages: Mapped[str] = mapped_column(String(100), default="")
    # The family's private contact, sealed by the vault: never public, never shown by default.
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    channel: Mapped[str] = mapped_column(String(10), default="staff", server_default="staff")
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    submitted_by_tipster_id: Mapped[int | None] = mapped_column(
        ForeignKey("tipsters.id", ondelete="SET NULL")
    )
    submitted_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    verified_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    # Area alerts: the centre and the time the expanding radius counts from (the last-seen
    # point, or a credible sighting a moderator re-centred on) and the radius covered so far.
    alert_lat: Mapped[float | None] = mapped_column(Float)
    alert_lon: Mapped[float | None] = mapped_column(Float)
    alert_from_at: Mapped[datetime | None]
    alert_radius_km: Mapped[float | None] = mapped_column(Float)
    poster_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Provenance of an imported record (a shelter, a police list, a DNA-database partner):
    # re-importing the same source id updates the record instead of adding a second one.
    source_name: Mapped[str | None] = mapped_column(String(100))
    source_id: Mapped[str | None] = mapped_column(String(100))
    source_date: Mapped[date | None] = mapped_column(Date)
    # A found or imported record confirmed to be this missing person (or the other way round).
    linked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))


class CaseMatch(Base):
    """A possible link between two cases for moderators to confirm or dismiss: a duplicate
    registration, or a found person who may be a missing child."""

    __tablename__ = "case_matches"
    __table_args__ = (
        UniqueConstraint("case_id", "other_case_id", "kind", name="uq_case_matches_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    other_case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # duplicate | found
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    # open (a candidate) | reviewing | confirmed | reunited | dismissed
    status: Mapped[str] = mapped_column(String(20), default="open")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Confirmation: how (dna | police_id | family_recognition), when, the lab or police
    # reference, and who recorded it.
    evidence_type: Mapped[str | None] = mapped_column(String(30))
    evidence_on: Mapped[date | None] = mapped_column(Date)
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    confirmed_at: Mapped[datetime | None]
    # The reunion: a date, a coarse place, and a public note only with the family's consent.
    reunion_on: Mapped[date | None] = mapped_column(Date)
    reunion_place: Mapped[str | None] = mapped_column(String(200))
    reunion_note: Mapped[str | None] = mapped_column(Text)
    reunion_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reunion_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class CaseNameKey(Base):
    """A blocking key of a case's names (core/cases/name_keys.py): duplicate matching reads only the
    cases that share a key, so its cost does not grow with the registry."""

    __tablename__ = "case_name_keys"
    __table_args__ = (Index("ix_case_name_keys_key", "key"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(16), primary_key=True)


class CaseAlert(Base):
    """One message to one volunteer about one case: an alert, or the news that it ended."""

    __tablename__ = "case_alerts"
    __table_args__ = (
        UniqueConstraint("case_id", "subscription_id", "kind", name="uq_case_alerts_once"),
        Index("ix_case_alerts_subscription_at", "subscription_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # alert | ended
    radius_km: Mapped[float | None] = mapped_column(Float)
    distance_km: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasePhoto(Base):
    """A photo of a missing person; only our sanitised copies are ever shown.

    Arrives quarantined (a Telegram file id or a web upload in quarantine) and becomes "ready"
    after the same sandboxed sanitiser as tip photos, or "rejected" with a reason."""

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(
        String(20), default="quarantined", server_default="ready", index=True
    )
    source_ref: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    age_note: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # photo | age_progressed (made by police or a forensic artist; its age is an estimate)
    kind: Mapped[str] = mapped_column(String(20), default="photo", server_default="photo")
    # The person's age in the photo, in months (None: unknown), and the day it was taken.
    age_months: Mapped[int | None] = mapped_column(Integer)
    taken_on: Mapped[date | None] = mapped_column(Date)
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    display_sha256: Mapped[str | None] = mapped_column(String(64))
    thumb_sha256: Mapped[str | None] = mapped_column(String(64))
    phash: Mapped[int | None] = mapped_column(BigInteger)
    taken_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tipster(Base):
    """A pseudonymous member of the public; their real identity lives in the vault."""

    __tablename__ = "tipsters"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    # Where they are reached (not who they are): core.delivery.people picks the payload by it.
    channel: Mapped[str] = mapped_column(String(16), default="telegram", server_default="telegram")
    promising_count: Mapped[int] = mapped_column(Integer, default=0)
    spam_count: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipsterIdentity(Base):
    """The identity vault: encrypted contact details, found by a keyed hash, never shown."""

    __tablename__ = "tipster_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipster_id: Mapped[int] = mapped_column(
        ForeignKey("tipsters.id", ondelete="CASCADE"), unique=True
    )
    lookup_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tip(Timestamped, Base):
    """What someone saw, when and where."""

    __tablename__ = "tips"
    __table_args__ = (
        Index("ix_tips_lat_lon", "lat", "lon"),
        Index("ix_tips_queue", text("urgent DESC"), text("score DESC"), "created_at"),
        # Partial indexes over open tips only (migrations 0007, 0011): the queue's order.
        Index(
            "ix_tips_queue_open",
            text("urgent DESC"),
            text("score DESC"),
            text("answered DESC"),
            "created_at",
            postgresql_where=text(OPEN_TIPS_SQL),
            sqlite_where=text(OPEN_TIPS_SQL),
        ),
        Index(
            "ix_tips_case_queue",
            "case_id",
            text("urgent DESC"),
            text("score DESC"),
            text("answered DESC"),
            "created_at",
            postgresql_where=text(OPEN_TIPS_SQL),
            sqlite_where=text(OPEN_TIPS_SQL),
        ),
        # The few tips waiting to be scored again (the rescoring worker reads them every round).
        Index(
            "ix_tips_rescore_due",
            "id",
            postgresql_where=text(RESCORE_DUE_SQL),
            sqlite_where=text(RESCORE_DUE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True, default=new_ref)
    source_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    tipster_id: Mapped[int | None] = mapped_column(ForeignKey("tipsters.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    seen_at: Mapped[datetime | None]
    seen_at_precision: Mapped[str | None] = mapped_column(String(20))
    place_text: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(20))
    location_precision_m: Mapped[float | None] = mapped_column(Float)
    contact_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(10), default="en")
    # 0 until the evidence worker has scored the tip; the queue ranks by (urgent, score, age).
    score: Mapped[float] = mapped_column(Float, index=True, default=0.0, server_default="0")
    score_parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("tip_clusters.id"), index=True)
    evaluated_at: Mapped[datetime | None]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    claim_expires_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # True exactly while status is "answered": a column so the queue's index can rank answered
    # tips above others of the same score.
    answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who asked the tipster the latest question: their dashboard badge counts the answers.
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # Why the tip must be scored again (its case's last-seen changed...); the rescoring worker
    # scores it and clears this.
    rescore_reason: Mapped[str | None] = mapped_column(String(200))


class TipCluster(Timestamped, Base):
    """Tips that agree (same photo, same words, same place and time): shown as one queue row."""

    __tablename__ = "tip_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True, default=new_ref)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    size: Mapped[int] = mapped_column(Integer, default=1)
    independent_sources: Mapped[int] = mapped_column(Integer, default=1)


class TipPhoto(Base):
    """A file attached to a tip: quarantined until the photo worker has sanitised it."""

    __tablename__ = "tip_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="photo")
    status: Mapped[str] = mapped_column(String(20), default="quarantined", index=True)
    source_ref: Mapped[str | None] = mapped_column(String(200))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    display_sha256: Mapped[str | None] = mapped_column(String(64))
    thumb_sha256: Mapped[str | None] = mapped_column(String(64))
    phash: Mapped[int | None] = mapped_column(BigInteger)
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    exif_taken_at: Mapped[datetime | None]
    # The camera's wall-clock time when the photo recorded no UTC offset (evidence, not UTC).
    exif_local_time: Mapped[str | None] = mapped_column(String(32))
    camera: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceEmbedding(Base):
    """A 128-d face descriptor from a case photo or a tip photo (float32 bytes)."""

    __tablename__ = "face_embeddings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_photos.id", ondelete="CASCADE"), index=True
    )
    tip_photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("tip_photos.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    box: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceMatch(Base):
    """How alike a tip face and a case face are, for a moderator to judge (never automatic)."""

    __tablename__ = "face_matches"
    __table_args__ = (UniqueConstraint("tip_face_id", "case_face_id", name="uq_face_matches_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_face_id: Mapped[int] = mapped_column(ForeignKey("face_embeddings.id", ondelete="CASCADE"))
    case_face_id: Mapped[int] = mapped_column(ForeignKey("face_embeddings.id", ondelete="CASCADE"))
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    similarity: Mapped[float] = mapped_column(Float)
    distance: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceVerdict(Base):
    """A moderator's judgement of a tip's face matches with one case: same child, or not."""

    __tablename__ = "face_verdicts"
    __table_args__ = (UniqueConstraint("tip_id", "case_id", name="uq_face_verdicts_tip_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(10))  # same | not_same
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipScore(Base):
    """One change of a tip's lead score and why: the score's history on the tip page."""

    __tablename__ = "tip_scores"
    __table_args__ = (Index("ix_tip_scores_tip_at", "tip_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200))


class StaffUser(Base):
    """A moderator, senior moderator, police liaison, admin or auditor."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The last TOTP time-step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The Telegram user who presses this account's buttons in the moderators' group (see /link).
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]


class StaffRecoveryCode(Base):
    """A one-time recovery code that stands in for a TOTP code once (only its hash is stored)."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class StaffRoleRequest(Base):
    """A change that needs a second admin: granting the admin role to an existing account."""

    __tablename__ = "staff_role_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # pending -> approved | refused
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in staff member's server-side session (only a hash of its id is stored)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    # Password checked, second factor not yet: such a session can only finish signing in.
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class StaffInvite(Base):
    """A one-time set-up link: the first admin's, or one an admin made for a new colleague."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Who made it (None: the system's first-admin link) and why.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    revoked_at: Mapped[datetime | None]
    # A 2FA reset re-enrols this existing account instead of creating one.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    used_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # An admin invitation made while two or more admins exist waits for a second admin.
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class Decision(Base):
    """A moderator's decision on a tip; a tip has at most one open decision per kind of outcome."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    outcome: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipNote(Base):
    """A private note staff keep on a tip (never shown to the tipster or the family)."""

    __tablename__ = "tip_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevealRequest(Base):
    """A senior moderator asks to see a tipster's identity; a second one approves or refuses."""

    __tablename__ = "reveal_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipster_id: Mapped[int] = mapped_column(ForeignKey("tipsters.id", ondelete="CASCADE"))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id", ondelete="SET NULL"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class ErasureRequest(Base):
    """A senior moderator asks to erase a tipster's identity; a second one approves or refuses."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    tipster_id: Mapped[int] = mapped_column(ForeignKey("tipsters.id", ondelete="CASCADE"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class CallbackToken(Base):
    """Opaque server-side callback data for moderator buttons in Telegram (never trusted as is)."""

    __tablename__ = "callback_tokens"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    action: Mapped[str] = mapped_column(String(40))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class AuditEvent(Base):
    """Append-only record of every sensitive act: who, role, what, which object, when, why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_ref: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class InboxUpdate(Base):
    """A raw Telegram update, committed before it is acknowledged (durable admission)."""

    __tablename__ = "inbox_updates"
    __table_args__ = (Index("ix_inbox_updates_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    # True when the webhook already answered the update's callback query in its response.
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ChatInbox:
    """The columns of a chat transport's inbox (WhatsApp's, SMS's), which the chat processor
    reads: the sender only as a keyed hash and sealed, what came, and how its processing went."""

    sender_key: Mapped[str] = mapped_column(String(64))
    sealed_sender: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class WhatsAppInbound(ChatInbox, Base):
    """A WhatsApp message, committed before the webhook is answered (durable admission).

    The sender's phone number is never here in plain text: `sender_key` is a keyed hash (for
    grouping and the 24-hour window), `sealed_sender` the number sealed with the vault key.
    """

    __tablename__ = "whatsapp_inbox"
    __table_args__ = (
        Index("ix_whatsapp_inbox_status_next", "status", "next_attempt_at"),
        Index("ix_whatsapp_inbox_sender_received", "sender_key", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)


class SmsInbound(ChatInbox, Base):
    """A text message, committed before the SMS webhook is answered (durable admission).

    The sender's number is never here in plain text: `sender_key` is a keyed hash, and
    `sealed_sender` the number sealed with the vault key. STOP, START and HELP are stored done.
    """

    __tablename__ = "sms_inbox"
    __table_args__ = (
        Index("ix_sms_inbox_status_next", "status", "next_attempt_at"),
        Index("ix_sms_inbox_sender_received", "sender_key", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)


class SmsOptOut(Base):
    """A number that texted STOP (by keyed hash): nothing is sent to it until START."""

    __tablename__ = "sms_opt_outs"

    sender_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsMenu(Base):
    """A tipster's last numbered choices on SMS: the button data a typed "2" stands for."""

    __tablename__ = "sms_menus"

    tipster_id: Mapped[int] = mapped_column(
        ForeignKey("tipsters.id", ondelete="CASCADE"), primary_key=True
    )
    choices: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """An outbound message written in the same transaction as the decision that causes it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # WhatsApp: the message id the send returned, and the last status Meta reported for it
    # (sent, delivered, read, failed; docs/whatsapp.md).
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivery_status_at: Mapped[datetime | None]


class Subscription(Base):
    """A family member linked to a case, or a volunteer opted in to alerts for an area."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_lat_lon", "lat", "lon"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    tipster_id: Mapped[int] = mapped_column(ForeignKey("tipsters.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    radius_km: Mapped[float | None] = mapped_column(Float)
    place_text: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(10), default="en")
    # Quiet hours as minutes after local midnight in `timezone`; alerts wait until they end.
    quiet_start_min: Mapped[int | None] = mapped_column(Integer)
    quiet_end_min: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FsmState(Base):
    """Persistent conversation state for the bot (aiogram FSM), so a draft survives a restart."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FamilyLink(Base):
    """A one-time code for a family: /start family_CODE links them to a case."""

    __tablename__ = "family_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )


class PoliceRecipient(Base):
    """Where a case's evidence packets go: an e-mail address or a webhook URL of the police."""

    __tablename__ = "police_recipients"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "address", name="uq_police_recipients_case_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # email | webhook
    address: Mapped[str] = mapped_column(String(500))
    label: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who added it most recently (re-adding a removed one resets its approval): that person
    # cannot approve it. Nothing is sent to it until approved_by is set (two-person rule).
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    approved_at: Mapped[datetime | None]
    # Webhooks: the secret is derived, never stored (core/delivery/webhook_signing.py); rotation
    # bumps the generation and the previous one keeps signing until previous_secret_until.
    secret_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    previous_secret_until: Mapped[datetime | None]


class Forward(Base):
    """A lead passed on once per audience: a vetted summary to the family, a packet to police."""

    __tablename__ = "forwards"
    __table_args__ = (UniqueConstraint("tip_id", "audience", name="uq_forwards_tip_audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    audience: Mapped[str] = mapped_column(String(10))  # family | police
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    # Family only: what the moderator wrote or approved; never the tip's own text or a point.
    summary: Mapped[str] = mapped_column(Text, default="")
    coarse_place: Mapped[str | None] = mapped_column(String(200))
    include_photo_sha: Mapped[str | None] = mapped_column(String(64))
    # Police only: the evidence packet as it stood when forwarded (every retry sends the same).
    packet: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FamilyFeedback(Base):
    """A family member's one-tap answer to a lead: mine, not mine, not sure (latest counts)."""

    __tablename__ = "family_feedback"
    __table_args__ = (
        UniqueConstraint("forward_id", "subscription_id", name="uq_family_feedback_forward_sub"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    forward_id: Mapped[int] = mapped_column(ForeignKey("forwards.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    answer: Mapped[str] = mapped_column(String(10))  # mine | not_mine | unsure
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ScamReport(Base):
    """A family member's "report a scam" on a lead they got: one per member and lead."""

    __tablename__ = "scam_reports"
    __table_args__ = (
        UniqueConstraint("forward_id", "subscription_id", name="uq_scam_reports_forward_sub"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    forward_id: Mapped[int] = mapped_column(ForeignKey("forwards.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PeopleImport(Base):
    """One import of found people (a CSV or JSON file, maybe a ZIP of photos) and its progress."""

    __tablename__ = "people_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_name: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(300), default="")
    # running | done | failed | interrupted (its process ended and it could not be resumed)
    status: Mapped[str] = mapped_column(String(20), default="running")
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    # [{"line": n, "reason": "..."}], at most a few hundred, for the dashboard and the CLI.
    problems: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The uploaded file and ZIP, kept (by SHA-256, in the media dir's imports store) until the
    # import is done, so an import whose process ended can be resumed.
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    photos_sha256: Mapped[str | None] = mapped_column(String(64))
    # The process running it holds a lease it renews with every commit; an import whose lease ran
    # out was left by a process that is gone, and another process may take it over.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
