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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


ROLES = ("station", "officer", "reviewer", "legal", "supervisor", "auditor", "admin")
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


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    serial: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="body_camera")  # body_camera, cctv, phone
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)


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
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), unique=True)
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
