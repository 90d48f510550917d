"""The catalogue's tables as SQLAlchemy 2 typed models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.access import ROLES  # noqa: F401  (re-exported for the catalogue's users)


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random, unguessable id for items that leave the server (evidence, cases, exports)."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalogue; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass



EVIDENCE_STATUSES = ("received", "processing", "ready", "damaged", "unplayable", "stored")
EVIDENCE_KINDS = ("video", "audio", "photo", "document", "other")


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every password, role, agency or active change: older tokens stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginFailure(Base):
    """Failed logins, counted per user and per address (kept in the catalogue so every
    server process of a scale-out deployment sees the same counts)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Officer(Base):
    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)  # badge / camera naming id
    name: Mapped[str] = mapped_column(String(200), default="")
    certificate_no: Mapped[str] = mapped_column(String(100), default="")  # 执法证件编号
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # The registry (issue 16, migration 0101): unit (科室/中队), active/left, when.
    unit: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, left
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=utcnow)

    __table_args__ = (
        Index("ux_officer_agency_certificate", "agency_id", "certificate_no", unique=True,
              sqlite_where=text("certificate_no != ''"),
              postgresql_where=text("certificate_no != ''")),
    )


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    serial: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="body_camera")  # body_camera, cctv, phone
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    # The registry (issue 16): officer_id above is the current holder, kept in step with the
    # open assignment in device_assignments (the history).
    model: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="in_service")  # in_service, repair, retired
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, default=utcnow)


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
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_evidence_recorded", "recorded_at"),
        Index("ix_evidence_agency", "agency_id"),
        Index("ux_evidence_sha256_agency", "sha256", "agency_id", unique=True),
    )


class LedgerRow(Base):
    """One custody-ledger entry; rows are only ever inserted (integrity/ledger.py hashes them)."""

    __tablename__ = "ledger"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))  # RFC 3339 as hashed, not re-rendered
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON of the details
    details_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class TreeHeadRow(Base):
    """A signed Merkle tree head over the ledger's first `size` entries."""

    __tablename__ = "tree_heads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[str] = mapped_column(String(64))
    time: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


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


class ManifestRow(Base):
    """One signed version of an evidence item's manifest; a new version supersedes, never edits."""

    __tablename__ = "item_manifests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the canonical bytes
    manifest: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical JSON bytes, as signed
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ux_manifest_item_version", "item_id", "version", unique=True),)


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


# -- cases, stages, records, approvals, complaints, retention (issue 6) -------------------
CASE_STAGES = ("initiation", "investigation", "decision", "service_execution", "archiving")
ENFORCEMENT_TYPES = ("penalty", "coercion", "levy", "inspection", "licensing", "charging", "other")
PROCEDURES = ("general", "simple")
SIGNATURE_STATUSES = ("signed", "refused", "not_applicable")


class Case(Base):
    """An enforcement case (案件); its number is unique within its agency."""

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    number: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    enforcement_type: Mapped[str] = mapped_column(String(20))
    procedure: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, archived
    stage: Mapped[str] = mapped_column(String(30), default="initiation")
    parties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    officers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    emergency_start: Mapped[bool] = mapped_column(Boolean, default=False)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    stage_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ux_case_agency_number", "agency_id", "number", unique=True),
        Index("ix_case_opened", "opened_at"),
        Index("ix_case_number", "number"),
    )


class CaseRecord(Base):
    """A typed text record (文字记录) of a case stage; never edited (a correction supersedes)."""

    __tablename__ = "case_records"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    doc_type: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    officers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    signature_status: Mapped[str] = mapped_column(String(20), default="not_applicable")
    service_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    execution_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    witness: Mapped[str] = mapped_column(String(200), default="")
    evidence_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    supersedes: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseLink(Base):
    """An evidence item linked to a case stage; an unlink keeps the row with unlinked_at."""

    __tablename__ = "case_links"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, auto, record
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unlinked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlink_reason: Mapped[str] = mapped_column(Text, default="")


class CaseApproval(Base):
    """An internal approval (Art. 8, 15, 24): handler, reviewer and approver, three people."""

    __tablename__ = "case_approvals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(30))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A request until each named person decided in their own session (issue 12, point 3):
    # pending -> reviewed -> approved, or rejected; the times are the server's.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseComplaint(Base):
    """A complaint or report (投诉举报, Art. 9) and what was decided about it."""

    __tablename__ = "case_complaints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(40), default="")
    complainant: Mapped[str] = mapped_column(String(200), default="")
    named: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20), default="pending")  # investigate, declined
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalHold(Base):
    """A legal hold on an evidence item; released holds stay as history."""

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    release_reason: Mapped[str] = mapped_column(Text, default="")


class DisposalRequest(Base):
    """A request to dispose of an item after its retention; a second person decides."""

    __tablename__ = "disposal_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, approved
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


# -- sealed court exports (issue 8) ---------------------------------------------------------
EXPORT_STATES = ("queued", "running", "done", "failed")


class Export(Base):
    """A sealed court package of a case: who asked, for whom and why, and what was sealed."""

    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    recipient: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(1000))
    item_ids: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # None: all linked
    clips: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # None: the basket
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    requested_by_name: Mapped[str] = mapped_column(String(200), default="")
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ledger_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    package_path: Mapped[str] = mapped_column(Text, default="")
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    package_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    verifier_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# -- the officer / device / station registry (issue 16) ---------------------------------------
from server.people.registry_vocab import DEVICE_KINDS, DEVICE_STATUSES, OFFICER_STATUSES  # noqa: E402,F401 (re-exported)


class DeviceAssignment(Base):
    """Which officer held which device from when to when (一人一机; shared pools per shift)."""

    __tablename__ = "device_assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: still
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Station(Base):
    """A docking station (采集站): where it is, whose account it uploads with, its heartbeat."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)  # the agent's --station id
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    location: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    last_contact: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    files_waiting: Mapped[int] = mapped_column(Integer, default=0)
    bytes_waiting: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_free: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    agent_version: Mapped[str] = mapped_column(String(100), default="")
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
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True,
                                                   index=True)
    claimed_officer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    flag: Mapped[str] = mapped_column(String(20), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- 抽查 / 案卷评查 and 责令限期整改 (issue 15; Art. 22-23) ----------------------------------------
class SpotCheck(Base):
    """A supervisor's reproducible random sample of an agency's archived cases (seed kept)."""

    __tablename__ = "spot_checks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seed: Mapped[str] = mapped_column(String(64))
    sample_size: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    population_sha256: Mapped[str] = mapped_column(String(64))
    pack: Mapped[str] = mapped_column(String(200), default="")
    checklist: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheckCase(Base):
    """One sampled case and how it scored against the checklist."""

    __tablename__ = "spot_check_cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spot_check_id: Mapped[str] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    position: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # percent
    scored_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RectificationOrder(Base):
    """A 责令限期整改 issued after a spot check, and the agency's answer (Art. 23)."""

    __tablename__ = "rectification_orders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    spot_check_id: Mapped[str] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    case_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requirement: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, answered
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response: Mapped[str] = mapped_column(Text, default="")
    response_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# Evidence list filters (issue 11): by camera and by officer inside an agency, and the newest-first
# listing order.
Index("ix_evidence_agency_device", EvidenceItem.agency_id, EvidenceItem.device_id)
Index("ix_evidence_agency_officer", EvidenceItem.agency_id, EvidenceItem.officer_id)
Index("ix_evidence_agency_received", EvidenceItem.agency_id, EvidenceItem.received_at, EvidenceItem.id)


# -- signing keys with validity windows (issue 13) ------------------------------------------
class SigningKeyRow(Base):
    """A public signing key the server has used, with the window in which it signed
    (RFC 3339 text, compared with tree-head times); the private half lives only in the key
    file, and only for the current key."""

    __tablename__ = "signing_keys"
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_hex: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[str | None] = mapped_column(String(40), nullable=True)
    valid_to: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
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
class LedgerThrottle(Base):
    """How many ledger entries of one noisy kind (failed logins, ...) were written in the
    current window, and how many were only counted; the next entry reports that count."""

    __tablename__ = "ledger_throttles"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    written: Mapped[int] = mapped_column(Integer, default=0)
    suppressed: Mapped[int] = mapped_column(BigInteger, default=0)
