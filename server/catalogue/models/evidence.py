"""Evidence items, their stored objects, uploads, jobs, renditions, deliveries and viewing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.catalogue.models.base import Base, UTCDateTime, new_id, utcnow

EVIDENCE_STATUSES = ("received", "processing", "ready", "damaged", "unplayable", "stored")


EVIDENCE_KINDS = ("video", "audio", "photo", "document", "other")


class StoredObject(Base):
    """One object in the write-once store, keyed by its SHA-256."""

    __tablename__ = "stored_objects"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(20))  # original, derived
    derived_from: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceItem(Base):
    __tablename__ = "evidence_items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Unique per agency (migration 0103): each agency delivering the same bytes gets its own
    # item over the one stored object.
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"))
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20), default="other")
    status: Mapped[str] = mapped_column(String(20), default="received")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    original_filename: Mapped[str] = mapped_column(String(500))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    officer_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    station_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    delivered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    claimed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retention_class: Mapped[str] = mapped_column(String(40), default="default")
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Seconds of audio/video as probed (migration 0202: typed, since it is queried); the rest
    # of what the media job learned stays in media_info.
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_evidence_recorded", "recorded_at"),
        Index("ix_evidence_agency", "agency_id"),
        Index("ux_evidence_sha256_agency", "sha256", "agency_id", unique=True),
    )


UPLOAD_STATES = ("receiving", "committing", "committed", "refused", "terminated", "expired")


class Upload(Base):
    """One tus upload: its progress, what the station claimed, and what it became.

    Rows stay after the upload ends so a station can ask what became of it; the partial file
    is removed when the upload commits, is refused, terminated or expires."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="receiving", index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # the tus Upload-Offset
    metadata_raw: Mapped[str] = mapped_column(Text, default="")  # Upload-Metadata as sent
    filename: Mapped[str] = mapped_column(String(500))  # sanitised
    claimed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    server_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    officer_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    station_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # case number, as sent
    stage: Mapped[str | None] = mapped_column(String(100), nullable=True)
    evidence_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The whole-file SHA-256 state at `received` (server.intake.sha256state), so the next
    # PATCH continues it on any server; and the staging area's own bookkeeping (JSON, e.g. the
    # S3 multipart upload id, its parts and the small pieces not yet in a part).
    hash_state: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    staging: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeploymentMark(Base):
    """A value every server of one deployment must agree on (e.g. the id written into the
    shared upload staging folder: a server that sees another id is not looking at it)."""

    __tablename__ = "deployment_marks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


JOB_STATES = ("queued", "running", "done", "failed")


class Job(Base):
    """A unit of background work (media processing, exports), claimed by one worker at a time."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(200), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_jobs_claim", "state", "run_after"),)


class Rendition(Base):
    """A derived file of an evidence item (HLS playlist/segment, sprite, VTT, waveform, preview),
    stored content-addressed beside the original."""

    __tablename__ = "renditions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # path under the item, e.g. hls/seg-00001.m4s
    role: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ux_rendition_item_name", "item_id", "name", unique=True),)


class Bookmark(Base):
    """A reviewer's bookmark at a time of an evidence item, with a note (ledgered on creation)."""

    __tablename__ = "bookmarks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(100))
    time_s: Mapped[float] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BasketClip(Base):
    """A clip (item, in, out, name) in a case's export basket (ledgered on creation)."""

    __tablename__ = "basket_clips"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"))
    in_s: Mapped[float] = mapped_column()
    out_s: Mapped[float] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(100))
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ATTRIBUTION_FLAGS = ("matched", "officer_mismatch", "unassigned", "unknown_device", "no_time")


class ItemAttribution(Base):
    """Whose footage an item is, as the registry says: the device it came from and the officer
    who held it at recorded_at; what the file name claimed is kept beside it."""

    __tablename__ = "item_attributions"
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    device_serial: Mapped[str] = mapped_column(String(100), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id"), nullable=True, index=True
    )
    claimed_officer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    flag: Mapped[str] = mapped_column(String(20), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- custody: deliveries and viewing sessions (issue 12) -------------------------------------
class EvidenceDelivery(Base):
    """One delivery of an item's bytes by its agency (a committed upload), with the dock
    metadata that delivery carried; the same bytes delivered again under another name or by
    another device add a delivery instead of losing what it said."""

    __tablename__ = "evidence_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    upload_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    delivered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(500))
    device_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    officer_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    station_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first: Mapped[bool] = mapped_column(Boolean, default=False)  # the delivery that made the item
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ViewSession(Base):
    """A viewing session (HLS playback, ranged original reads) of a user on an item: one
    `view` ledger entry covers every fetch of the session until `expires_at`."""

    __tablename__ = "view_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))  # playback, original_range
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("ix_view_session_key", "user_id", "item_id", "kind", "expires_at"),)


# Evidence list filters (issue 11): by camera and by officer inside an agency, and the newest-first
# listing order.
Index("ix_evidence_agency_device", EvidenceItem.agency_id, EvidenceItem.device_id)
Index("ix_evidence_agency_officer", EvidenceItem.agency_id, EvidenceItem.officer_id)
Index(
    "ix_evidence_agency_received", EvidenceItem.agency_id, EvidenceItem.received_at, EvidenceItem.id
)
